"""One held call waiting for a person, on the elicitation and terminal channels together.

:class:`Wait` is started by the HOLD verdict's callback with the relay's :class:`~mcpwrap._message.HeldCall`
and uses nothing else of the relay. It submits the call to the terminal queue and/or asks the client with
``elicitation/create``, then waits in its own thread for the first of:

- the client's answer to the form (an error, or a client that cannot show it, drops that channel);
- a decision written by ``mcpwrap approve``/``deny``, accepted only for the digest of the call it holds;
- the deadline: the rule's ``timeout`` when the request carried a ``progressToken`` (it then gets
  ``notifications/progress`` every ``progress_interval``), else at most ``max_wait_without_progress``;
  then the rule's ``on_timeout`` applies;
- the end of the hold from outside (the client cancelled or left, the server exited): recorded, no answer.

Exactly one outcome is applied (``finished`` under the lock); the other channel is withdrawn. Any failure of
the wait itself denies: a broken wait never forwards.
"""

from __future__ import annotations

import threading
import time

from ..._message import HeldCall, Message, Verdict
from ..._protocol import FORM_ELICITATION_PROTOCOL
from ..._state.approvals import ApprovalError, ApprovalQueue, digest_of
from . import form
from .memory import SessionMemory
from .notify import notify_desktop
from .settings import INTERCEPTOR_NAME, ApprovalRequirement, ApprovalSettings

__all__ = ["Wait", "TERMINAL_POLL_INTERVAL"]

TERMINAL_POLL_INTERVAL = 0.2  # how often a held call looks for a decision written by `mcpwrap approve`


class Wait:
    """One held call waiting for a person: elicitation and terminal listen together; the first answer wins."""

    def __init__(
        self,
        held: HeldCall,
        req: ApprovalRequirement,
        channels: list[str],
        *,
        queue: ApprovalQueue,
        settings: ApprovalSettings,
        memory: SessionMemory,
    ) -> None:
        self.held = held
        self.msg: Message = held.msg
        self.req = req
        self.channels = channels
        self.queue = queue
        self.settings = settings
        self.memory = memory
        if "always" in req.remember and not memory.always_possible(self.msg):
            req.remember = [r for r in req.remember if r != "always"]
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.elicited: tuple[str, str, str] | None = None  # (decision, remember, what) from the client
        self.elicitation_failed: str | None = None
        self.elicitation_id: str | None = None
        self.approval_id: str | None = None
        self.digest = digest_of(held.forward_bytes)
        self.started = time.monotonic()
        self.finished = False  # under self.lock: the first of decision / timeout / end of the hold wins
        self.wait = req.timeout if held.progress_token is not None else min(req.timeout, settings.max_wait_without_progress)

    def start(self) -> None:
        self.held.on_end(self._on_held_end)
        fields = self._fields()
        if "terminal" in self.channels:
            try:
                self.approval_id = self.queue.submit(form.queue_entry(self.msg, self.req, self.wait, self.digest, time.time()))
            except ApprovalError as exc:
                self.channels = [c for c in self.channels if c != "terminal"]
                self.held.audit("approval", status="channel-failed", channel="terminal", reason=str(exc), **fields)
        if "elicitation" in self.channels:
            version = self.msg.session.protocol_version or ""
            params = form.elicitation_params(self.msg, self.req, self.wait, modern_form=version >= FORM_ELICITATION_PROTOCOL)
            self.elicitation_id = self.held.ask_client("elicitation/create", params, self._on_elicitation)
            if self.elicitation_id is None:
                self.channels = [c for c in self.channels if c != "elicitation"]
        if not self.channels:
            self._finish("denied", None, "no approval channel could be used", block_reason=form.no_channel_reason(self.req))
            return
        self.held.audit("approval", status="requested", channel=",".join(self.channels), approval=self.approval_id, timeout=self.wait, **fields)
        if self.approval_id is not None and self.settings.desktop_notification:
            notify_desktop(self.msg.session.server, form.subject_of(self.msg), self.approval_id)
        threading.Thread(target=self._run, name="mcpwrap-approval", daemon=True).start()

    def _fields(self) -> dict:
        return dict(id=self.msg.id, method=self.msg.method, tool=self.msg.tool_name, rule=self.req.rule)

    def _on_held_end(self, reason: str) -> None:
        # Ended from outside (client cancel, client gone, server exit): record it now, in the thread that ended
        # it, so the record is written before the relay finishes the session.
        if reason not in ("released", "answered"):
            self._finish("expired", None, reason, answer=False)
        self.wake.set()

    def _on_elicitation(self, envelope: dict) -> None:
        with self.lock:
            if "error" in envelope:
                err = envelope.get("error")
                self.elicitation_failed = str(err.get("message") if isinstance(err, dict) else err)
            else:
                self.elicited = form.elicitation_choice(envelope.get("result"), self.req.remember)
        self.wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # fail closed: a broken wait denies, it never forwards
            reason = f"the approval could not be completed ({type(exc).__name__}); the call was not forwarded"
            self._finish("denied", None, "internal error", block_reason=reason)

    def _loop(self) -> None:
        interval = self.settings.progress_interval
        next_progress = self.started + interval
        deadline = self.started + self.wait
        ticks = 0
        while True:
            now = time.monotonic()
            wake_at = min(deadline, next_progress)
            if "terminal" in self.channels:
                wake_at = min(wake_at, now + TERMINAL_POLL_INTERVAL)
            self.wake.wait(max(0.0, wake_at - now))
            self.wake.clear()
            if self.held.is_ended():
                return  # recorded by _on_held_end
            with self.lock:
                elicited, failed = self.elicited, self.elicitation_failed
                self.elicitation_failed = None
            if elicited is not None:
                self.elicitation_id = None  # answered: nothing to withdraw
                decision, remember, what = elicited
                self._finish("approved" if decision == "approve" else "denied", "elicitation", what, remember=remember)
                return
            if failed is not None:
                self.elicitation_id = None
                self.channels = [c for c in self.channels if c != "elicitation"]
                self.held.audit("approval", status="channel-failed", channel="elicitation", reason=failed, **self._fields())
                if not self.channels:
                    self._finish("denied", "elicitation", f"the client could not show the approval form ({failed})")
                    return
            if self.approval_id is not None:
                record = self.queue.poll_decision(self.approval_id)
                if record is not None:
                    if record.get("digest") != self.digest:  # a decision about another call
                        self._finish("denied", "terminal", "decision did not match the held call")
                        return
                    written = record.get("decision")
                    chosen = record.get("remember")
                    remember = chosen if isinstance(chosen, str) and chosen in self.req.remember else "once"
                    self._finish("approved" if written == "approve" else "denied", "terminal", f"ran mcpwrap {written}", remember=remember)
                    return
            now = time.monotonic()
            if now >= deadline:
                self._finish("timed-out", None, f"no decision within {self.wait:g} s")
                return
            if now >= next_progress:
                ticks += 1
                self.held.progress(ticks, message="waiting for a person to approve this call")
                next_progress = now + interval

    def _withdraw(self) -> None:
        if self.elicitation_id is not None:
            self.held.withdraw(self.elicitation_id, "decided elsewhere")
            self.elicitation_id = None
        if self.approval_id is not None:
            self.queue.withdraw(self.approval_id)

    def _finish(
        self, status: str, channel: str | None, what: str, *, remember: str | None = None, answer: bool = True, block_reason: str | None = None
    ) -> None:
        with self.lock:
            if self.finished:
                return
            self.finished = True
        self._withdraw()
        wait_ms = round((time.monotonic() - self.started) * 1000, 3)
        fields = self._fields()
        release = status == "approved" or (status == "timed-out" and self.req.on_timeout == "allow")
        if status == "approved":
            self.memory.remember(self.msg, self.req.rule, remember or "once", form.arguments_of(self.msg), self.held.audit)
            self.memory.note_approved(self.msg, self.msg.params, self.req.timeout)
        self.held.audit(
            "approval",
            status=status,
            channel=channel,
            approval=self.approval_id,
            remember=remember if status == "approved" else None,
            choice=what,
            wait_ms=wait_ms,
            on_timeout=self.req.on_timeout if status == "timed-out" else None,
            **fields,
        )
        if not answer:
            return
        if release:
            self.held.release()
            return
        if block_reason is None:
            block_reason = form.timed_out_reason(self.req.rule, self.wait) if status == "timed-out" else form.not_approved_reason(self.req.rule)
        self.held.answer(Verdict.block(block_reason, rule=self.req.rule, interceptor=INTERCEPTOR_NAME))
