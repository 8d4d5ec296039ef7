"""Held requests: a client request the chain held (a HOLD verdict) until the verdict's callback decides it.

A request is held when an interceptor cannot decide it at once (human approval). It is neither forwarded nor
answered; the relay keeps it and hands a :class:`HeldRequest` to the verdict's ``hold`` callback. The handle
implements :class:`mcpwrap._message.HeldCall` — the whole seam between a holding interceptor and the relay:
the callback later *releases* the request (the bytes frozen when it was held are forwarded, and the request
becomes pending) or *answers* it (the block contract, or a response mcpwrap composed), and meanwhile may send
progress, ask the client something of its own, and write audit records.

Invariants
- What a release forwards is frozen at interception (:func:`freeze`): later changes to the envelope object
  cannot reach the server, so what a person approved is what the server receives.
- Exactly one decision ends a hold. The relay takes the request out of its table under its pending lock
  before acting, so a release, an answer, the client's ``notifications/cancelled``, the server's exit and the
  client's EOF race safely: the first wins, the others return False and do nothing.
- A hold that cannot be started (no callable, or the callback raises) is answered with the block contract at
  once (:func:`start`): a held request never leaves the client waiting for nothing.

The handle does not know how the relay keeps it: it talks to its owner through :class:`HoldOwner`, so the
relay's concurrency can change without touching what a holding interceptor sees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from .._log import warning
from .._message import Message, RequestId, Verdict
from . import jsonrpc as rpc

__all__ = ["HeldRequest", "HoldOwner", "freeze", "start"]


class HoldOwner(Protocol):
    """What a held request needs from the relay that keeps it (callable from any thread)."""

    def release_held(self, held: HeldRequest, envelope: dict | None) -> bool:
        """Take ``held`` out of the table, forward it (frozen bytes, or ``envelope``), track it as pending."""
        ...

    def answer_held(self, held: HeldRequest, response: dict, reason: str) -> bool:
        """Take ``held`` out of the table and write ``response`` to the client."""
        ...

    def send_client_request(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None: ...

    def cancel_client_request(self, request_id: str, reason: str) -> bool: ...

    def send_client_notification(self, method: str, params: dict) -> bool: ...

    def record_now(self, event: str, **fields: Any) -> None:
        """Record an audit event and write it at once."""
        ...


def freeze(msg: Message, line: bytes) -> bytes:
    """The bytes a release will forward, fixed now: the line as received, unless the chain changed it."""
    if msg.modified:
        return rpc.encode(rpc.annotate_modified(msg))
    if msg.in_batch:
        return rpc.encode(msg.envelope)
    return line + b"\n"


class HeldRequest:
    """A client request the chain held: the handle its callback uses to decide it later (a ``HeldCall``).

    Every method that ends the hold returns False when it had already ended (released, answered, cancelled by
    the client, answered on the child's exit, client gone): the first decision wins, the others are no-ops.
    """

    __slots__ = ("_owner", "msg", "id", "forward_bytes", "held_at", "end_reason", "_on_end", "ended")

    def __init__(self, owner: HoldOwner, msg: Message, forward_bytes: bytes) -> None:
        self._owner = owner
        self.msg = msg
        self.id = cast(RequestId, msg.id)  # only requests are held, and check_envelope admits str or int ids
        self.forward_bytes = forward_bytes  # frozen at interception: what a release sends, byte for byte
        self.held_at = time.monotonic()
        self.end_reason: str | None = None
        self._on_end: list[Callable[[str], None]] = []
        self.ended = threading.Event()

    @property
    def progress_token(self) -> str | int | None:
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
        return self._owner.release_held(self, envelope)

    def answer(self, verdict: Verdict) -> bool:
        """Answer the client with the block contract for ``verdict``; nothing reaches the server."""
        return self._owner.answer_held(self, rpc.blocked_request_response(self.msg, verdict), verdict.reason)

    def reply(self, response: dict, reason: str = "answered by mcpwrap") -> bool:
        """Answer the client with a response mcpwrap composed (its id must be the held request's)."""
        return self._owner.answer_held(self, response, reason)

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
        return self._owner.send_client_notification("notifications/progress", params)

    def is_ended(self) -> bool:
        return self.ended.is_set()

    def ask_client(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None:
        """mcpwrap's own request to the client on this hold's behalf (answered to mcpwrap, never the server)."""
        return self._owner.send_client_request(method, params, on_response)

    def withdraw(self, request_id: str, reason: str) -> bool:
        return self._owner.cancel_client_request(request_id, reason)

    def audit(self, event: str, **fields: Any) -> None:
        """Record (and write at once: no pump flushes for a hold's own thread)."""
        self._owner.record_now(event, **fields)

    def end(self, reason: str) -> None:
        """Mark the hold ended and tell the ``on_end`` callbacks. Only the relay calls this, once, after it took
        the request out of its table."""
        self.end_reason = reason
        self.ended.set()
        for callback in self._on_end:
            try:
                callback(reason)
            except Exception as exc:  # pragma: no cover - a callback bug must not break the relay
                warning(f"a held request's end callback failed: {type(exc).__name__}: {exc}")


def start(held: HeldRequest, verdict: Verdict | None) -> None:
    """Hand ``held`` to the HOLD verdict's callback; a hold that cannot be started is answered with a block."""
    callback = verdict.hold if verdict is not None else None
    try:
        if not callable(callback):
            raise TypeError("a hold verdict needs a callable hold")
        callback(held)
    except Exception as exc:  # fail closed: a hold that cannot be started is answered with a block
        held.answer(
            Verdict.block(
                f"the request was held but could not be decided ({type(exc).__name__}: {exc})",
                rule="interceptor-error",
                interceptor=verdict.interceptor if verdict is not None else "relay",
            )
        )
