"""One held call waiting for a person.

The client's form (elicitation) and the terminal queue listen together; the first decision wins and the other
is withdrawn; progress notifications keep a patient client waiting; at the deadline the rule's ``on_timeout``
applies. A broken wait denies: it never forwards.

A decision counts only when a person made it:

- The form is answered by the client, which shows it to the person. A decline or cancel faster than a person
  could read the form (:data:`~.reach.FAST_ANSWER_SECONDS`), or an error, means nobody saw it: the call falls
  back to the terminal instead of being denied. A client known to drop forms in some of its modes
  (:mod:`.reach`) gets the terminal's code by notification from the start.
- The terminal needs the call's one-time code (:mod:`mcpwrap._state.approvals`): minted here, kept in this
  object only, shown in the form and/or a desktop notification, never written anywhere else. Each decision
  attempt is verified in constant time and consumed; :data:`MAX_CODE_ATTEMPTS` wrong ones deny the call (and
  tell the person). A denial needs no code.
- When no channel can reach a person — no form, or a form nobody saw, and no notification could carry the
  code — the call is refused with a reason that says how to get a channel; it is never decided by default
  as if someone had answered, and such a refusal is recorded as ``unreached``, not as a person's denial.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from ..._message import HeldCall, Message, Verdict
from ..._protocol import FORM_ELICITATION_PROTOCOL
from ..._state.approvals import (
    MAX_CODE_ATTEMPTS,
    ApprovalError,
    ApprovalQueue,
    call_digest,
    format_code,
    new_code,
    verify_mac,
)
from .form import CODE_WARNING, TERMINAL_CHOICE, call_lines, elicitation_choice, elicitation_params, printable, short_digest
from .notify import notify_desktop
from .reach import FAST_ANSWER_SECONDS, UNRELIABLE, form_reach
from .settings import TERMINAL_POLL_INTERVAL, ApprovalRequirement, ApprovalSettings

__all__ = ["Wait", "WaitOwner", "ASK_TERMINAL", "unreached_reason"]

ASK_TERMINAL = (
    "A person can approve such calls in a client that shows MCP approval forms, or from a terminal with "
    "`mcpwrap approve` when a desktop notification can carry its one-time code (a session bus with a notification "
    "service, or macOS); or allow the call with a policy rule."
)


def unreached_reason(rule: str, detail: str) -> str:
    return f"this call needs a person's approval (rule {rule}), but no approval channel reached a person: {detail}. {ASK_TERMINAL}"


class WaitOwner(Protocol):
    """What a wait needs from the approval interceptor that started it."""

    @property
    def name(self) -> str: ...

    queue: ApprovalQueue
    settings: ApprovalSettings
    live_codes: set[str]  # the codes of calls waiting now: no client message carrying one reaches a server

    def always_possible(self, msg: Message) -> bool: ...

    def on_approved(self, msg: Message, call: dict, rule: str, remember: str, request_id: Any, seconds: float, audit: Any) -> None: ...


class Wait:
    """One held call waiting for a person: form and terminal listen together; the first valid answer wins.

    ``call`` is what the person decides (:func:`mcpwrap._state.approvals.call_of`); ``forward`` the envelope a
    release sends instead of the held bytes (a stateless call handed to the terminal: the frozen call under the
    retry's id).
    """

    def __init__(
        self, icpt: WaitOwner, held: HeldCall, req: ApprovalRequirement, channels: list[str], call: dict, *, forward: dict | None = None
    ) -> None:
        self.icpt = icpt
        self.held = held
        self.msg: Message = held.msg
        self.req = req
        self.channels = list(channels)
        self.call = call
        self.forward = forward
        if "always" in req.remember and not icpt.always_possible(self.msg):
            req.remember = [r for r in req.remember if r != "always"]
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.elicited: tuple[Any, float] | None = None  # (the client's answer envelope, seconds after the form went out)
        self.elicitation_id: str | None = None
        self.form_sent_at = 0.0
        self.form_choices: tuple[str, ...] = ()
        self.approval_id: str | None = None
        self.code: str | None = None  # the one-time code: in this object's memory only
        self.code_channels: set[str] = set()  # where the code was shown: "form", "notification"
        self.notified = False
        self.notify_failure = ""
        self.attempts = 0
        self.digest = call_digest(held.msg.session.server, call)
        self.reach, self.reach_why = form_reach(held.msg.session)
        self.started = time.monotonic()
        self.finished = False  # under self.lock: the first of decision / timeout / end of the hold wins
        self.wait = req.timeout if held.progress_token is not None else min(req.timeout, icpt.settings.max_wait_without_progress)

    # --- start ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.held.on_end(self._on_held_end)
        fields = self._fields()
        if "terminal" in self.channels:
            try:
                self.approval_id = self.icpt.queue.submit(self._queue_entry())
                self.code = new_code()
                self.icpt.live_codes.add(self.code)
            except ApprovalError as exc:
                self.channels.remove("terminal")
                self.held.audit("approval", status="channel-failed", channel="terminal", reason=str(exc), **fields)
        form_lost = ""
        if "elicitation" in self.channels:
            form_lost = self._send_form()
        if not self.channels:
            why = form_lost or "no approval channel could be used"
            self._finish("unreached", None, why, block_reason=unreached_reason(self.req.rule, why))
            return
        self.held.audit(
            "approval",
            status="requested",
            channel=",".join(self.channels),
            approval=self.approval_id,
            timeout=self.wait,
            digest=self.digest,
            form=self.reach if "elicitation" in self.channels else None,
            **fields,
        )
        threading.Thread(target=self._run, name="mcpwrap-approval", daemon=True).start()

    def _send_form(self) -> str:
        """Send the approval form; '' when it went out, else why it could not be used."""
        version = self.msg.session.protocol_version or ""
        terminal = (self.approval_id, format_code(self.code)) if self.approval_id is not None and self.code is not None else None
        params = elicitation_params(
            self.msg, self.req, self.wait, self.digest, modern_form=version >= FORM_ELICITATION_PROTOCOL, terminal=terminal
        )
        self.form_choices = tuple(params["requestedSchema"]["properties"]["decision"]["enum"])
        if "approve" not in self.form_choices and TERMINAL_CHOICE not in self.form_choices:
            self.channels.remove("elicitation")
            why = "the call is too long to show in full in the client's approval form, and the rule has no terminal channel"
            self.held.audit("approval", status="channel-failed", channel="elicitation", reason=why, **self._fields())
            return why
        self.form_sent_at = time.monotonic()
        self.elicitation_id = self.held.ask_client("elicitation/create", params, self._on_elicitation)
        if self.elicitation_id is None:
            self.channels.remove("elicitation")
            return "the client can no longer be written to"
        if terminal is not None:
            self.code_channels.add("form")
        return ""

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
            "method": self.call.get("method"),
            "tool": call_lines(self.call)[0].partition(": ")[2],
            "call": self.call,  # the whole call: `mcpwrap approve` shows it and computes its digest from it
            "digest": self.digest,
            "rule": self.req.rule,
            "reason": self.req.reason,
            "on_timeout": self.req.on_timeout,
            "remember": self.req.remember,
        }

    # --- the person's channels ---------------------------------------------------------------------------------

    def _notify_code(self) -> None:
        """Send the terminal's code by desktop notification (once)."""
        if self.notified or self.approval_id is None or self.code is None:
            return
        self.notified = True
        if not self.icpt.settings.desktop_notification:
            self.notify_failure = "desktop notifications are off (approval.desktop_notification: false)"
            return
        server = printable(self.msg.session.server)
        body = (
            f"{server}: {call_lines(self.call)[0]} (rule {printable(self.req.rule)}).\n"
            f"To see the call and approve it, run in a terminal:  mcpwrap approve {self.approval_id}\n"
            f"One-time code: {format_code(self.code)}   (for this call only; digest {short_digest(self.digest)})\n"
            f"{CODE_WARNING}"
        )
        shown, why = notify_desktop("mcpwrap: a call waits for your approval", body)
        if shown:
            self.code_channels.add("notification")
            self.held.audit("approval", status="code-sent", channel="notification", approval=self.approval_id, **self._fields())
        else:
            self.notify_failure = why
            self.held.audit("approval", status="channel-failed", channel="notification", reason=why, **self._fields())

    def _check_terminal_reach(self) -> str:
        """Drop the terminal when its code reached nobody; '' if it still can decide, else why not."""
        if "terminal" not in self.channels or self.code_channels:
            return ""
        why = "no channel could show the one-time code that `mcpwrap approve` needs" + (f" ({self.notify_failure})" if self.notify_failure else "")
        self.channels.remove("terminal")
        if self.approval_id is not None:
            self.icpt.queue.withdraw(self.approval_id)
        self.held.audit("approval", status="channel-failed", channel="terminal", reason=why, **self._fields())
        return why

    def _form_lost(self, why: str) -> str | None:
        """The form reached nobody: fall back to the terminal. Returns the reason when no channel is left."""
        self.elicitation_id = None
        if "elicitation" in self.channels:
            self.channels.remove("elicitation")
        self.code_channels.discard("form")
        self.held.audit("approval", status="channel-failed", channel="elicitation", reason=why, **self._fields())
        self._notify_code()
        terminal_lost = self._check_terminal_reach()
        if self.channels:
            return None
        return f"{why}, and {terminal_lost}" if terminal_lost else why

    # --- the waiting thread ---------------------------------------------------------------------------------------

    def _on_held_end(self, reason: str) -> None:
        # Ended from outside (client cancel, client gone, server exit): record it now, in the thread that ended
        # it, so the record is written before the relay finishes the session.
        if reason not in ("released", "answered"):
            self._finish("expired", None, reason, answer=False)
        self.wake.set()

    def _on_elicitation(self, envelope: dict) -> None:
        with self.lock:
            self.elicited = (envelope, time.monotonic() - self.form_sent_at)
        self.wake.set()

    def _run(self) -> None:
        try:
            if self.approval_id is not None and ("form" not in self.code_channels or self.reach == UNRELIABLE):
                self._notify_code()
            lost = self._check_terminal_reach()
            if not self.channels:
                self._finish("unreached", None, lost, block_reason=unreached_reason(self.req.rule, lost))
                return
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
                elicited, self.elicited = self.elicited, None
            if elicited is not None and self._form_answered(*elicited):
                return
            if self.approval_id is not None and "terminal" in self.channels and self._terminal_decided():
                return
            now = time.monotonic()
            if now >= deadline:
                self._finish("timed-out", None, f"no decision within {self.wait:g} s")
                return
            if now >= next_progress:
                ticks += 1
                self.held.progress(ticks, message="waiting for a person to approve this call")
                next_progress = now + interval

    def _form_answered(self, envelope: dict, seconds: float) -> bool:
        """Handle the client's answer to the form; True when the call is decided."""
        if "error" in envelope:
            err = envelope.get("error")
            lost = self._form_lost(f"the client could not show the approval form ({err.get('message') if isinstance(err, dict) else err})")
        else:
            result = envelope.get("result")
            decision, remember, what = elicitation_choice(result, self.req.remember, self.form_choices)
            action = result.get("action") if isinstance(result, dict) else None
            if action in ("decline", "cancel") and seconds < FAST_ANSWER_SECONDS:
                lost = self._form_lost(
                    f"the client answered the approval form with {action} {seconds:.2f} s after it was sent, faster than a person "
                    "can read it: nobody saw it"
                )
            elif decision == TERMINAL_CHOICE:
                self.elicitation_id = None
                if "elicitation" in self.channels:
                    self.channels.remove("elicitation")
                self.held.audit("approval", status="form-closed", channel="elicitation", choice=what, **self._fields())
                return False
            else:
                self.elicitation_id = None  # answered: nothing to withdraw
                self._finish("approved" if decision == "approve" else "denied", "elicitation", what, remember=remember)
                return True
        if lost is None:
            return False
        self._finish("unreached", "elicitation", lost, block_reason=unreached_reason(self.req.rule, lost))
        return True

    def _terminal_decided(self) -> bool:
        """Judge every decision attempt written so far; True when the call is decided."""
        assert self.approval_id is not None
        for token, record in self.icpt.queue.take_decisions(self.approval_id):
            if self.finished:
                return True
            if not isinstance(record, dict) or token is None:
                self._wrong(token, "a decision file mcpwrap did not write")
                continue
            decision = record.get("decision")
            if decision == "deny":  # refusing needs no code
                self.icpt.queue.answer(self.approval_id, token, {"status": "denied"})
                self._finish("denied", "terminal", "ran mcpwrap deny (refusing needs no code)", verified=False)
                return True
            remember = record.get("remember")
            if decision != "approve" or not isinstance(remember, str) or remember not in self.req.remember:
                self._wrong(token, "not a valid decision (decision or remember)")
                continue
            if record.get("digest") != self.digest:
                self._wrong(token, "the call it approves is not the call that is held")
                continue
            code = self.code
            if code is None:  # decided meanwhile (the code dies with the decision)
                return True
            if not verify_mac(code, self.approval_id, self.digest, record):
                self._wrong(token, "wrong code")
                continue
            self.icpt.queue.answer(self.approval_id, token, {"status": "approved", "remember": remember})
            self._finish("approved", "terminal", "ran mcpwrap approve with the code", remember=remember, verified=True)
            return True
        return self.finished

    def _wrong(self, token: str | None, why: str) -> None:
        """A decision attempt that does not prove a person's approval: counted, answered, audited."""
        assert self.approval_id is not None
        self.attempts += 1
        left = MAX_CODE_ATTEMPTS - self.attempts
        self.held.audit("approval", status="code-rejected", channel="terminal", approval=self.approval_id, reason=why, attempt=self.attempts, **self._fields())
        if left > 0:
            self.icpt.queue.answer(self.approval_id, token, {"status": "rejected", "reason": why, "attempts_left": left})
            return
        self.icpt.queue.answer(self.approval_id, token, {"status": "denied", "reason": f"{why}; {MAX_CODE_ATTEMPTS} attempts failed, the call was denied"})
        if self.icpt.settings.desktop_notification:
            notify_desktop(
                "mcpwrap: an approval was refused",
                f"{printable(self.msg.session.server)}: {call_lines(self.call)[0]} — {MAX_CODE_ATTEMPTS} attempts to approve it with a wrong "
                "code; the call was denied. If that was not you, a program running as you tried to approve it.",
            )
        self._finish(
            "denied",
            "terminal",
            f"{MAX_CODE_ATTEMPTS} wrong codes",
            block_reason=f"{MAX_CODE_ATTEMPTS} attempts to approve this call gave a wrong one-time code, so it was denied (rule {self.req.rule})",
        )

    # --- the end ----------------------------------------------------------------------------------------------------

    def _withdraw(self) -> None:
        if self.elicitation_id is not None:
            self.held.withdraw(self.elicitation_id, "decided elsewhere")
            self.elicitation_id = None
        if self.approval_id is not None:
            self.icpt.queue.withdraw(self.approval_id)

    def _finish(
        self,
        status: str,
        channel: str | None,
        what: str,
        *,
        remember: str | None = None,
        answer: bool = True,
        block_reason: str | None = None,
        verified: bool | None = None,
    ) -> None:
        with self.lock:
            if self.finished:
                return
            self.finished = True
        if self.code is not None:
            self.icpt.live_codes.discard(self.code)
        self.code = None  # dies with the decision
        self._withdraw()
        wait_ms = round((time.monotonic() - self.started) * 1000, 3)
        fields = self._fields()
        release = status == "approved" or (status == "timed-out" and self.req.on_timeout == "allow")
        if status == "approved":
            forward_id = self.forward.get("id") if self.forward is not None else self.msg.id
            self.icpt.on_approved(self.msg, self.call, self.req.rule, remember or "once", forward_id, self.req.timeout, self.held.audit)
        self.held.audit(
            "approval",
            status=status,
            channel=channel,
            approval=self.approval_id,
            remember=remember if status == "approved" else None,
            choice=what,
            verified=verified,
            wait_ms=wait_ms,
            on_timeout=self.req.on_timeout if status == "timed-out" else None,
            **fields,
        )
        if not answer:
            return
        if release:
            self.held.release(self.forward)
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
