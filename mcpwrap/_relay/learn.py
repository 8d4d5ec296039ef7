"""What the relay learns about the session from the traffic: protocol version, capabilities, peers, tools.

Interceptors read the :class:`~mcpwrap._message.Session`; only the relay writes it, from here. The client's
side is learned before the chain sees a request (its capabilities decide, e.g., whether an approval form can
be shown for that very request); the server's side only from what is forwarded, after the chain decided, so
the tool catalog holds what the client was actually shown.

A session may be stateful (``initialize`` carries the version and capabilities once) or stateless
(2026-07-28: every request carries them in ``_meta``); a wrapper cannot assume either, so both are read.
"""

from __future__ import annotations

from .._message import Kind, Message, Session
from .._protocol import META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION

__all__ = ["from_client", "from_server"]


def from_client(session: Session, msg: Message) -> None:
    """Learn from a client request or notification (before the chain runs)."""
    params = msg.params
    if not isinstance(params, dict):
        return
    if msg.method == "initialize":
        s = session
        s.protocol_version = params.get("protocolVersion") if isinstance(params.get("protocolVersion"), str) else s.protocol_version
        if isinstance(params.get("capabilities"), dict):
            s.client_capabilities = params["capabilities"]
        if isinstance(params.get("clientInfo"), dict):
            s.client_info = params["clientInfo"]
        return
    meta = params.get("_meta")
    if isinstance(meta, dict) and isinstance(meta.get(META_PROTOCOL_VERSION), str):
        s = session
        s.protocol_version = meta[META_PROTOCOL_VERSION]
        s.stateless = True
        if isinstance(meta.get(META_CLIENT_CAPABILITIES), dict):
            s.client_capabilities = meta[META_CLIENT_CAPABILITIES]
        if isinstance(meta.get(META_CLIENT_INFO), dict):
            s.client_info = meta[META_CLIENT_INFO]


def from_server(session: Session, msg: Message, envelope: dict) -> None:
    """Learn from a server message as forwarded (``envelope`` is what the client receives)."""
    if msg.kind is Kind.NOTIFICATION:
        if msg.method == "notifications/tools/list_changed":
            session.tools.forget()
        return
    if msg.kind is not Kind.RESULT or msg.request is None:
        return
    result = envelope.get("result")
    if not isinstance(result, dict):
        return
    method = msg.request.method
    if method == "tools/list" and isinstance(result.get("tools"), list):
        params = msg.request.params if isinstance(msg.request.params, dict) else {}
        session.tools.record_page(result["tools"], first_page="cursor" not in params, last_page=not result.get("nextCursor"))
    elif method in ("initialize", "server/discover"):
        s = session
        if method == "initialize" and isinstance(result.get("protocolVersion"), str):
            s.protocol_version = result["protocolVersion"]
        if isinstance(result.get("serverInfo"), dict):
            s.server_info = result["serverInfo"]
        if isinstance(result.get("instructions"), str):
            s.server_instructions = result["instructions"]
