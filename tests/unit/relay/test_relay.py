"""The relay's tracking and flush path, called directly (the pumps run in the integration tests).

Here: what happens when the audit log cannot be written and audit.on_failure is block."""

from __future__ import annotations

import json

from mcpwrap._chain import Chain
from mcpwrap._message import Direction, PendingRequest, Session
from mcpwrap._relay import jsonrpc as rpc
from mcpwrap._relay.relay import Relay, _Batch


def line(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def make_relay() -> Relay:
    return Relay(["true"], Session("s1", "srv", "alice"), Chain([]))


def test_unaudited_client_batch_is_answered_not_forwarded():
    relay = make_relay()
    relay.pending[Direction.CLIENT_TO_SERVER][1] = PendingRequest(1, "tools/call", Direction.CLIENT_TO_SERVER, {})
    relay.pending[Direction.CLIENT_TO_SERVER]["b"] = PendingRequest("b", "resources/list", Direction.CLIENT_TO_SERVER, {})
    out = _Batch()
    out.forward.append(line({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}))
    out.forward.append(line({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}))
    out.forward.append(line([{"jsonrpc": "2.0", "id": "b", "method": "resources/list"}]))
    out.reply.append(line({"jsonrpc": "2.0", "id": 9, "error": {"code": -32600, "message": "refused earlier"}}))

    withheld = relay._withhold_unaudited(Direction.CLIENT_TO_SERVER, out)

    assert withheld.forward == []  # nothing reaches the server
    answers = [json.loads(r) for r in withheld.reply]
    assert [a["id"] for a in answers] == [9, 1, "b"]
    tool_answer = answers[1]
    assert tool_answer["result"]["isError"] is True  # tools/call: the block contract's tool error
    assert "audit log" in json.dumps(tool_answer)
    assert answers[2]["error"]["code"] == rpc.BLOCKED
    assert answers[2]["error"]["data"]["mcpwrap"]["rule"] == "audit-unwritable"
    # Answered here, so no longer pending: the exit path must not answer them a second time.
    assert relay.pending[Direction.CLIENT_TO_SERVER] == {}


def test_unaudited_server_responses_become_errors_for_the_client():
    relay = make_relay()
    out = _Batch()
    out.forward.append(line({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text", "text": "secret data"}]}}))
    out.forward.append(line({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}))

    withheld = relay._withhold_unaudited(Direction.SERVER_TO_CLIENT, out)

    forwarded = [json.loads(x) for x in withheld.forward]
    assert forwarded == [
        {"jsonrpc": "2.0", "id": 4, "error": {"code": rpc.BLOCKED, "message": forwarded[0]["error"]["message"], "data": forwarded[0]["error"]["data"]}}
    ]
    assert "secret data" not in json.dumps(forwarded)
    assert [json.loads(x)["id"] for x in withheld.reply] == [0]  # the server's own request is answered to it


def test_flush_failure_is_reported_to_the_pump():
    from mcpwrap._errors import AuditError

    class BrokenLog:
        def flush(self):
            raise AuditError("disk full")

    relay = Relay(["true"], Session("s1", "srv"), Chain([]), audit=BrokenLog())
    assert relay._flush_audit() is False
    assert Relay(["true"], Session("s1", "srv"), Chain([]))._flush_audit() is True


class _LogReadingWriter:
    """A pipe writer double that, when the relay calls it, reads the audit log: the records of what it is
    given must already be in the file (written, not queued), whatever the relay does around the call."""

    def __init__(self, log_path, direction: str) -> None:
        self.log_path = log_path
        self.direction = direction
        self.forwarded: list[dict] = []
        self.closed = False

    def write(self, *chunks: bytes) -> bool:
        with open(self.log_path, "rb") as f:
            records = [json.loads(x) for x in f.read().splitlines()]
        recorded = {(r.get("direction"), r.get("kind"), r.get("method"), r.get("id")) for r in records if r["event"] == "message"}
        for raw in b"".join(chunks).splitlines():
            envelope = json.loads(raw)
            kind = "request" if "id" in envelope else "notification"
            assert (self.direction, kind, envelope["method"], envelope.get("id")) in recorded, envelope
            self.forwarded.append(envelope)
        return True

    def close(self) -> None:
        self.closed = True


def test_records_are_in_the_log_before_the_relay_forwards(tmp_path):
    import os

    from mcpwrap._audit.writer import AuditLog
    from mcpwrap.interceptors import build_chain, load_policy

    session = Session("s1", "srv", "alice")
    config = load_policy(None)
    log = AuditLog(tmp_path / "audit.jsonl", session, config["audit"])
    relay = Relay(["true"], session, build_chain(config, session, log), audit=log)
    relay.to_server = _LogReadingWriter(log.path, "c2s")
    relay.to_client = _LogReadingWriter(log.path, "s2c")
    relay._client_gone = lambda: None  # no child here: the pump's end of input ends the test
    INFO = {"name": "t", "version": "0"}
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": INFO}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hello"}}},
    ]
    r, w = os.pipe()
    relay.client_in = r
    # One read may carry several lines (one flush for them all) or one line each: written in two parts.
    os.write(w, b"".join(line(m) for m in messages[:3]))
    os.write(w, line(messages[3]))
    os.close(w)
    relay._pump(Direction.CLIENT_TO_SERVER)
    os.close(r)

    assert [m.get("id") for m in relay.to_server.forwarded] == [1, None, 2, 3]
