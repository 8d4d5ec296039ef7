"""Held requests: a client request the chain held (a HOLD verdict) until something decides it.

The relay keeps the request as a :class:`HeldRequest` and hands it to the verdict's callback, which later
*releases* it (the bytes frozen when it was held go to the server, and it becomes pending) or *answers* it
(the block contract, or a response mcpwrap composes). The handle implements :class:`mcpwrap._message.HeldCall`
— the whole seam between an interceptor and the relay — and reaches the relay only through
:class:`HoldOwner`, so this module does not depend on the relay's implementation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from .._log import warning
from .._message import Message, RequestId, Verdict
from . import jsonrpc as rpc

__all__ = ["HeldRequest", "HoldOwner"]


class HoldOwner(Protocol):
    """What a held request needs from the relay that holds it."""

    def _release_held(self, held: HeldRequest, envelope: dict | None) -> bool: ...

    def _answer_held(self, held: HeldRequest, response: dict, event: str, reason: str) -> bool: ...

    def send_client_request(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None: ...

    def cancel_client_request(self, own_id: str, reason: str) -> bool: ...

    def send_client_notification(self, method: str, params: dict) -> bool: ...

    def _audit_event(self, event: str, **fields: Any) -> None: ...

    def _flush_audit(self) -> bool: ...


class HeldRequest:
    """A client request the chain held (HOLD verdict): the handle its callback uses to decide it later.

    Every method that ends the hold returns False when it had already ended (released, answered, cancelled by
    the client, answered on the child's exit, client gone): the first decision wins, the others are no-ops.
    """

    __slots__ = ("relay", "msg", "id", "forward_bytes", "held_at", "end_reason", "_on_end", "ended")

    def __init__(self, relay: HoldOwner, msg: Message, forward_bytes: bytes) -> None:
        self.relay = relay
        self.msg = msg
        self.id: RequestId = msg.id  # a request: its id is a string or an integer (checked at decode)
        self.forward_bytes = forward_bytes  # frozen at interception: what a release sends, byte for byte
        self.held_at = time.monotonic()
        self.end_reason: str | None = None
        self._on_end: list[Callable[[str], None]] = []
        self.ended = threading.Event()

    @property
    def progress_token(self) -> Any:
        params = self.msg.params
        meta = params.get("_meta") if isinstance(params, dict) else None
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        return token if isinstance(token, (str, int)) and not isinstance(token, bool) else None

    @property
    def held_seconds(self) -> float:
        return time.monotonic() - self.held_at

    def on_end(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when the hold ends in any way (also after a release or an answer)."""
        self._on_end.append(callback)
        if self.ended.is_set():
            callback(self.end_reason or "")

    def release(self, envelope: dict | None = None) -> bool:
        """Forward the frozen request to the server (or ``envelope``, serialised) and track it as pending."""
        return self.relay._release_held(self, envelope)

    def answer(self, verdict: Verdict) -> bool:
        """Answer the client with the block contract for ``verdict``; nothing reaches the server."""
        return self.relay._answer_held(self, rpc.blocked_request_response(self.msg, verdict), "answered", verdict.reason)

    def reply(self, response: dict, reason: str = "answered by mcpwrap") -> bool:
        """Answer the client with a response mcpwrap composed (its id must be the held request's)."""
        return self.relay._answer_held(self, response, "answered", reason)

    def progress(self, progress: float, total: float | None = None, message: str | None = None) -> bool:
        """Send ``notifications/progress`` for this request, if it carried a progressToken and is still held."""
        token = self.progress_token
        if token is None or self.ended.is_set():
            return False
        params: dict = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        return self.relay.send_client_notification("notifications/progress", params)

    def is_ended(self) -> bool:
        return self.ended.is_set()

    def ask_client(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None:
        """mcpwrap's own request to the client on this hold's behalf (see :meth:`Relay.send_client_request`)."""
        return self.relay.send_client_request(method, params, on_response)

    def withdraw(self, request_id: str, reason: str) -> bool:
        return self.relay.cancel_client_request(request_id, reason)

    def audit(self, event: str, **fields: Any) -> None:
        """Record (and write at once: no pump flushes for a hold's own thread)."""
        self.relay._audit_event(event, **fields)
        self.relay._flush_audit()

    def _end(self, reason: str) -> None:
        self.end_reason = reason
        self.ended.set()
        for callback in self._on_end:
            try:
                callback(reason)
            except Exception as exc:  # pragma: no cover - a callback bug must not break the relay
                warning(f"a held request's end callback failed: {type(exc).__name__}: {exc}")
