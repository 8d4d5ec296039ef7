"""Small factories for messages, so unit tests call interceptors and the chain directly (no event loop)."""

from __future__ import annotations

from typing import Any

from mcpwrap._message import Direction, Message, PendingRequest, Session

C2S = Direction.CLIENT_TO_SERVER
S2C = Direction.SERVER_TO_CLIENT


def session(**kw: Any) -> Session:
    kw.setdefault("session_id", "test-session")
    kw.setdefault("server", "srv")
    kw.setdefault("subject", "alice")
    return Session(**kw)


def request(method: str, params: Any = None, *, id: Any = 1, direction: Direction = C2S, sess: Session | None = None) -> Message:
    env: dict = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        env["params"] = params
    return Message(direction, b"{}", env, sess or session())


def tool_call(name: str, arguments: dict | None = None, *, id: Any = 1, sess: Session | None = None) -> Message:
    return request("tools/call", {"name": name, "arguments": arguments or {}}, id=id, sess=sess)


def notification(method: str, params: Any = None, *, direction: Direction = C2S, sess: Session | None = None) -> Message:
    env: dict = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        env["params"] = params
    return Message(direction, b"{}", env, sess or session())


def response(result: Any, *, to: str = "tools/call", params: Any = None, id: Any = 1, direction: Direction = S2C, sess: Session | None = None) -> Message:
    req = PendingRequest(id, to, direction.reverse, params)
    return Message(direction, b"{}", {"jsonrpc": "2.0", "id": id, "result": result}, sess or session(), req)


def tool_result(text: str, *, tool: str = "echo", id: Any = 1, sess: Session | None = None, **extra: Any) -> Message:
    result = {"content": [{"type": "text", "text": text}], **extra}
    return response(result, to="tools/call", params={"name": tool, "arguments": {}}, id=id, sess=sess)


def make_interceptor(cls, sess, settings=None, *, config=None, audit=None, installed=frozenset({"approval"}), **kw):
    """An interceptor of class ``cls`` for session ``sess``, configured with ``settings`` (else those of
    ``config``, else the built-in defaults), as the composition root would build it."""
    from mcpwrap._chain import ChainContext
    from mcpwrap.interceptors import parse_policy

    icpt = cls(ChainContext(sess, audit, frozenset(installed)), **kw)
    if settings is None:
        settings = cls.settings_from(config if config is not None else parse_policy({}))
    icpt.configure(settings)
    return icpt
