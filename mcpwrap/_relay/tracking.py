"""Request tracking policies: how many requests may be in flight, and the ids mcpwrap mints for its own.

The relay keeps the tables (pending per direction, held client requests, mcpwrap's own requests to the client);
this module holds the rules it applies to them, so they can be read and tested apart from the pumps.

- **Bounded**: each direction holds at most :data:`MAX_IN_FLIGHT` requests in flight — from the client:
  pending and held requests; from the server's side: pending server requests and mcpwrap's own requests to
  the client. A request beyond that is answered at once with the block contract (rule ``in-flight-limit``) to
  whoever sent it, and audited, so a peer that never answers cannot grow mcpwrap's memory without limit.
- **Own ids**: ``mcpwrap-`` plus 128 bits from the OS's CSPRNG (:func:`new_own_id`). Nothing a peer can read
  (the session id is in the audit log) predicts one, and the protocol gate refuses any server request under
  the prefix; a client response under it that answers none of mcpwrap's requests is dropped
  (:func:`stray_own_response`), never routed to the server.
"""

from __future__ import annotations

import secrets
from typing import Any

from .._message import Direction, Message, Verdict
from . import jsonrpc as rpc
from .gate import OWN_ID_PREFIX

__all__ = ["MAX_IN_FLIGHT", "OWN_ID_BYTES", "new_own_id", "over_limit", "stray_own_response"]

# Real sessions keep a handful of requests in flight; each entry keeps its request's params, so the memory held
# is bounded by this many messages of --max-message-bytes.
MAX_IN_FLIGHT = 1024
OWN_ID_BYTES = 16  # random bytes of each id mcpwrap sends: unguessable, so no peer can pre-empt one


def new_own_id() -> str:
    return OWN_ID_PREFIX + secrets.token_hex(OWN_ID_BYTES)


def over_limit(msg: Message, limit: int, size: int) -> tuple[dict, dict[str, Any]]:
    """The answer to a request beyond the in-flight limit (the block contract) and its audit record's fields."""
    sender = "client" if msg.direction is Direction.CLIENT_TO_SERVER else "server"
    verdict = Verdict.block(
        f"the {sender} already has {limit} requests awaiting an answer, the most mcpwrap tracks; retry once some are answered",
        rule="in-flight-limit",
        interceptor="relay",
    )
    record = {
        "direction": msg.direction.value,
        "id": msg.id,
        "method": msg.method,
        "tool": msg.tool_name,
        "action": "block",
        "interceptor": "relay",
        "rule": "in-flight-limit",
        "reason": verdict.reason,
        "answered": "sender",
        "size": size,
    }
    return rpc.blocked_request_response(msg, verdict), record


def stray_own_response(msg_id: Any, size: int) -> dict[str, Any]:
    """The audit record's fields for a client response under mcpwrap's prefix that answers no own request."""
    return {
        "direction": Direction.CLIENT_TO_SERVER.value,
        "id": msg_id,
        "action": "block",
        "interceptor": "protocol",
        "rule": "protocol.reserved-id",
        "reason": "a response under mcpwrap's id prefix that answers none of its requests (withdrawn, answered or never "
        "sent); dropped, not routed to the server",
        "size": size,
    }
