"""What the relay learns about the session from the traffic it forwards.

From the client: the protocol version, capabilities and client info (at ``initialize``, or from every
stateless request's ``_meta``). From the server, after the chain has decided — so the session holds what the
client was really shown: the tools listed (:class:`mcpwrap._message.ToolCatalog`), server info and
instructions. Interceptors read these facts; only the relay writes them.
"""

from __future__ import annotations

from .._message import Kind, Message, Session
from .._protocol import META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION

__all__ = ["learn_from_client", "learn_from_server"]


def learn_from_client(session: Session, msg: Message) -> None:
    """What a client request tells about the session: protocol version, capabilities, client info."""
    params = msg.params
    if not isinstance(params, dict):
        return
    if msg.method == "initialize":
        s = session
        # A client may probe with a stateless request (server/discover) and fall back to initialize: the session
        # is then a legacy one, whatever the probe said.
        s.stateless = False
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

def learn_from_server(session: Session, msg: Message, envelope: dict) -> None:
    """What a forwarded server message tells: the tools listed, server info and instructions."""
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
