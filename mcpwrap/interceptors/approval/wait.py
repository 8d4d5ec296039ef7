"""One held call waiting for a person: the elicitation form and the terminal queue listen together; the first
decision wins, the other channel is withdrawn; progress notifications keep a patient client waiting; at the
deadline the rule's ``on_timeout`` applies. A broken wait denies: it never forwards.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from ..._message import HeldCall, Message, Verdict
from ..._protocol import FORM_ELICITATION_PROTOCOL
from ..._state.approvals import ApprovalError, ApprovalQueue, digest_of
from .form import arguments_of, elicitation_choice, elicitation_params, subject_of, summarize_arguments
from .notify import notify_desktop
from .settings import TERMINAL_POLL_INTERVAL, ApprovalRequirement, ApprovalSettings

__all__ = ["Wait", "WaitOwner"]


class WaitOwner(Protocol):
    """What a wait needs from the approval interceptor that started it."""

    @property
    def name(self) -> str: ...

    queue: ApprovalQueue
    settings: ApprovalSettings

    def always_possible(self, msg: Message) -> bool: ...

    def approved(self, msg: Message, params: Any, seconds: float) -> None: ...

    def _remember(self, msg: Message, rule: str, remember: str, arguments: Any, audit: Any) -> None: ...

    def _no_channel_reason(self, msg: Message, req: ApprovalRequirement) -> str: ...


class Wait:
    """One held call waiting for a person: elicitation and terminal listen together; the first answer wins."""

    def __init__(self, icpt: WaitOwner, held: HeldCall, req: ApprovalRequirement, channels: list[str]) -> None:
        self.icpt = icpt
        self.held = held
        self.msg: Message = held.msg
        self.req = req
        self.channels = channels
        if "always" in req.remember and not icpt.always_possible(self.msg):
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
        self.wait = req.timeout if held.progress_token is not None else min(req.timeout, icpt.settings.max_wait_without_progress)

    def start(self) -> None:
        self.held.on_end(self._on_held_end)
        fields = self._fields()
        if "terminal" in self.channels:
            try:
                self.approval_id = self.icpt.queue.submit(self._queue_entry())
            except ApprovalError as exc:
                self.channels = [c for c in self.channels if c != "terminal"]
                self.held.audit("approval", status="channel-failed", channel="terminal", reason=str(exc), **fields)
        if "elicitation" in self.channels:
            version = self.msg.session.protocol_version or ""
            params = elicitation_params(self.msg, self.req, self.wait, modern_form=version >= FORM_ELICITATION_PROTOCOL)
            self.elicitation_id = self.held.ask_client("elicitation/create", params, self._on_elicitation)
            if self.elicitation_id is None:
                self.channels = [c for c in self.channels if c != "elicitation"]
        if not self.channels:
            self._finish("denied", None, "no approval channel could be used", block_reason=self.icpt._no_channel_reason(self.msg, self.req))
            return
        self.held.audit("approval", status="requested", channel=",".join(self.channels), approval=self.approval_id, timeout=self.wait, **fields)
        if self.approval_id is not None and self.icpt.settings.desktop_notification:
            notify_desktop(self.msg.session.server, subject_of(self.msg), self.approval_id)
        threading.Thread(target=self._run, name="mcpwrap-approval", daemon=True).start()

    def _fields(self) -> dict:
        return dict(id=self.msg.id, method=self.msg.method, tool=self.msg.tool_name, rule=self.req.rule)

    def _queue_entry(self) -> dict:
        now = time.time()
        s = self.msg.session
        return {
            "created_ts": now,
            "expires_ts": now + self.wait,
            "session": s.session_id,
            "server": s.server,
            "subject": s.subject,
            "client": s.client_info.get("name") if isinstance(s.client_info, dict) else None,
            "method": self.msg.method,
            "tool": subject_of(self.msg),
            "arguments": summarize_arguments(arguments_of(self.msg)) if self.msg.method == "tools/call" else None,
            "rule": self.req.rule,
            "reason": self.req.reason,
            "on_timeout": self.req.on_timeout,
            "remember": self.req.remember,
            "digest": self.digest,
        }

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
                self.elicited = elicitation_choice(envelope.get("result"), self.req.remember)
        self.wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # fail closed: a broken wait denies, it never forwards
            self._finish(
                "denied", None, "internal error", block_reason=f"the approval could not be completed ({type(exc).__name__}); the call was not forwarded"
            )

    def _loop(self) -> None:
        interval = self.icpt.settings.progress_interval
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
                decision_record = self.icpt.queue.poll_decision(self.approval_id)
                if decision_record is not None:
                    if decision_record.get("digest") != self.digest:  # a decision about another call
                        self._finish("denied", "terminal", "decision did not match the held call")
                        return
                    decision = str(decision_record.get("decision"))
                    chosen = decision_record.get("remember")
                    remember = chosen if isinstance(chosen, str) and chosen in self.req.remember else "once"
                    self._finish("approved" if decision == "approve" else "denied", "terminal", f"ran mcpwrap {decision}", remember=remember)
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
            self.icpt.queue.withdraw(self.approval_id)

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
            self.icpt._remember(self.msg, self.req.rule, remember or "once", arguments_of(self.msg), self.held.audit)
            self.icpt.approved(self.msg, self.msg.params, self.req.timeout)
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
            if status == "timed-out":
                block_reason = (
                    f"no one approved this call within {self.wait:g} s (rule {self.req.rule} requires a person's approval). "
                    "A person can approve calls like this from a terminal with `mcpwrap approvals` while the call waits, "
                    "or allow them with a policy rule."
                )
            else:
                block_reason = f"a person did not approve this call (rule {self.req.rule})"
        self.held.answer(Verdict.block(block_reason, rule=self.req.rule, interceptor=self.icpt.name))
