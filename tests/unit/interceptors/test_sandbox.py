"""Refusals a sandboxed server reports only in a tool result are recorded like those on its stderr."""

from __future__ import annotations

import json

from mcpwrap._chain import ChainContext, Outcome
from mcpwrap._message import Action, Direction, Message, PendingRequest, Session
from mcpwrap._sandbox.denials import DenialScanner
from mcpwrap.interceptors.sandbox import SandboxDenials


def result_message(sess: Session, method: str, result: dict) -> Message:
    env = {"jsonrpc": "2.0", "id": 3, "result": result}
    return Message(Direction.SERVER_TO_CLIENT, json.dumps(env).encode(), env, sess, PendingRequest(3, method, Direction.CLIENT_TO_SERVER, {}))


def scanner(home: str) -> tuple[DenialScanner, list[dict]]:
    found: list[dict] = []
    s = DenialScanner(lambda p: "credential stores" if p.endswith("/.netrc") else None, cwd=home, home=home)
    s.attach(found.append)
    return s, found


def test_a_refusal_in_a_tool_result_is_recorded_once(tmp_path):
    sess = Session("s", "files")
    scan, found = scanner(str(tmp_path))
    icpt = SandboxDenials(ChainContext(sess), scan.scan)
    text = f"Error: EACCES: permission denied, open '{tmp_path}/.netrc'"
    msg = result_message(sess, "tools/call", {"content": [{"type": "text", "text": text}], "isError": True})
    icpt.observe(msg, Outcome(Action.PASS))
    icpt.observe(msg, Outcome(Action.PASS))  # the same path again: one record
    assert [(f["path"], f["source"], f["denied_by"]) for f in found] == [(f"{tmp_path}/.netrc", "result", "credential stores")]


def test_ordinary_results_and_client_messages_record_nothing(tmp_path):
    sess = Session("s", "files")
    scan, found = scanner(str(tmp_path))
    icpt = SandboxDenials(ChainContext(sess), scan.scan)
    icpt.observe(result_message(sess, "tools/call", {"content": [{"type": "text", "text": "all fine"}]}), Outcome(Action.PASS))
    icpt.observe(result_message(sess, "tools/list", {"tools": [{"name": f"{tmp_path}/.netrc EACCES"}]}), Outcome(Action.PASS))
    env = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x", "arguments": {"p": f"EACCES {tmp_path}/.netrc"}}}
    icpt.observe(Message(Direction.CLIENT_TO_SERVER, b"{}", env, sess), Outcome(Action.PASS))
    assert found == []
