"""Message factories for the content interceptors' unit tests (no event loop, no process)."""

from __future__ import annotations

import json
from typing import Any

from mcpwrap._message import Direction, Message, PendingRequest, Session
from mcpwrap.interceptors import parse_policy as parse_config


def session(name: str = "srv", tools: list[dict] | None = None) -> Session:
    s = Session(session_id="t", server=name)
    if tools is not None:
        s.tools.record_page(tools, first_page=True, last_page=True)
    return s


def config(**sections: Any):
    return parse_config(sections)


def call(sess: Session, tool: str, arguments: Any, msg_id: int = 1) -> Message:
    env = {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    return Message(Direction.CLIENT_TO_SERVER, json.dumps(env).encode(), env, sess)


def request(sess: Session, method: str, params: Any, direction: Direction = Direction.CLIENT_TO_SERVER, msg_id: int = 1) -> Message:
    env = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
    return Message(direction, json.dumps(env).encode(), env, sess)


def result(sess: Session, method: str, result_value: Any, *, tool: str | None = None, msg_id: int = 1,
           direction: Direction = Direction.SERVER_TO_CLIENT) -> Message:
    params = {"name": tool, "arguments": {}} if tool else {}
    req = PendingRequest(msg_id, method, direction.reverse, params)
    env = {"jsonrpc": "2.0", "id": msg_id, "result": result_value}
    return Message(direction, json.dumps(env).encode(), env, sess, req)


def tool_result(sess: Session, tool: str, text: str, **extra: Any) -> Message:
    return result(sess, "tools/call", {"content": [{"type": "text", "text": text}], **extra}, tool=tool)
