"""The approval interceptor: which channel asks the person, the stateless (2026-07-28) round trip, and what a
person's answer is remembered as."""

from __future__ import annotations

import copy
import re
import secrets
import time
from typing import Any

from ..._chain import ChainContext, Interceptor
from ..._config import Config
from ..._message import ApprovalNeed, Direction, HeldCall, Kind, Message, Verdict
from ..._protocol import MODERN_PROTOCOL
from ..._state.approvals import (
    CODE_LOOKALIKES,
    ApprovalError,
    ApprovalQueue,
    call_digest,
    call_of,
    load_or_create_key,
    override_rule,
    write_override_rule,
)
from .form import TERMINAL_CHOICE, call_lines, elicitation_choice, elicitation_params, form_fits
from .memory import SessionMemory
from .notify import notifier_available
from .reach import FAST_ANSWER_SECONDS, NONE, UNRELIABLE, client_label, form_reach
from .settings import APPROVAL_SECTION, CONTINUATION_SECONDS, INPUT_KEY, STATELESS_METHODS, ApprovalRequirement, ApprovalSettings
from .token import STATE_PREFIX, sign_state, verify_state
from .wait import Wait, unreached_reason

__all__ = ["ApprovalInterceptor"]

_ROUND_FIELDS = ("_meta", "inputResponses", "requestState")  # a stateless request's transport fields, not the call


_NOT_CODE = re.compile(rb"[^0-9A-Z]+")
_CODE_READING = bytes.maketrans(*(s.encode("ascii") for s in CODE_LOOKALIKES))  # as normalize_code reads a code


class ApprovalInterceptor(Interceptor):
    name = "approval"
    sections = (APPROVAL_SECTION,)

    def __init__(self, context: ChainContext, *, queue: ApprovalQueue | None = None, key_path: str | None = None) -> None:
        super().__init__(context)
        self.settings = ApprovalSettings()
        self._fixed_queue = queue  # given by a caller (tests): kept whatever the policy says
        self.queue = queue or ApprovalQueue(None)
        self.key_path = key_path
        self.memory = SessionMemory()  # kept across reloads: the interceptor lives as long as the session
        self._key: bytes | None = None
        self._client_noted = False
        self.live_codes: set[str] = set()  # codes of calls waiting now (a Wait adds its own, removes it when done)

    @classmethod
    def settings_from(cls, config: Config) -> ApprovalSettings:
        return config["approval"]

    def configure(self, settings: ApprovalSettings) -> None:
        if self._fixed_queue is None and settings.queue != self.settings.queue:
            self.queue = ApprovalQueue(settings.queue)
        self.settings = settings

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = load_or_create_key(self.key_path)
        return self._key

    def inspect(self, msg: Message) -> Verdict | None:
        if msg.direction is not Direction.CLIENT_TO_SERVER:
            if self.memory.released and (msg.kind is Kind.RESULT or msg.kind is Kind.ERROR):
                self._server_answered(msg)
            if msg.is_request and msg.method == "elicitation/create":
                return self._server_form(msg)
            return None
        if self.live_codes and self._carries_live_code(msg.raw):
            return Verdict.block(
                "this message carries the one-time code of a call waiting for approval: the code is typed only into "
                "`mcpwrap approve` at a terminal, and never reaches a server (a form asking for it is not mcpwrap's)",
                rule="approval-code-guard",
                details={"approval": "code withheld"},
            )
        if not msg.is_request:
            return None
        if not self._client_noted and self.session.client_info:
            self._note_client()
        params = msg.params if isinstance(msg.params, dict) else {}
        state = params.get("requestState")
        if isinstance(state, str) and state.startswith(STATE_PREFIX):
            return self._resume_stateless(msg, state)
        need = msg.notes.approval
        if need is None:
            return None
        req = ApprovalRequirement(need, self.settings)
        key = self._call_key(call_of(msg.method, params))
        if isinstance(state, str):
            seconds = self.memory.take_continuation(key, state)
            if seconds is not None:  # the server's own round of a call a person approved: once, this state only
                self.memory.released_approved(msg.id, key, seconds)
                return Verdict.allow(rule=req.rule, reason="continues a call a person approved", details={"approval": "continuation"})
        if self.memory.is_remembered(req.rule, key):
            if self.session.stateless:
                self.memory.released_approved(msg.id, key, min(req.timeout, CONTINUATION_SECONDS))
            return Verdict.allow(rule=req.rule, reason="approved for this session earlier", details={"approval": "remembered for the session"})
        channels = self.available_channels(msg, req)
        if not channels:
            return Verdict.block(self._no_channel_reason(msg, req), rule=req.rule, details={"approval": "no channel"})
        if channels[0] == "stateless":
            return Verdict.held(lambda held: self._ask_stateless(held, req), reason=f"asking a person (rule {req.rule})", rule=req.rule)
        call = call_of(msg.method, msg.params)
        return Verdict.held(
            lambda held: Wait(self, held, req, channels, call).start(), reason=f"waiting for a person's approval (rule {req.rule})", rule=req.rule
        )

    # --- a server's forms and the codes of held calls ----------------------------------------------------

    def _carries_live_code(self, raw: bytes) -> bool:
        """Whether ``raw`` holds the code of a call still waiting, however it was typed (case, separators, the
        letters ``normalize_code`` reads as digits)."""
        folded = _NOT_CODE.sub(b"", raw.upper().translate(_CODE_READING))
        return any(code.encode("ascii") in folded for code in list(self.live_codes))

    def _server_form(self, msg: Message) -> Verdict | None:
        """A server's own elicitation says whose it is before anything else, so no server's form can pass for
        mcpwrap's approval form (which never asks for the code)."""
        params = msg.params
        if not isinstance(params, dict) or not isinstance(params.get("message"), str):
            return None
        text = params["message"]
        prefix = f"[A request from the MCP server {self.session.server!r}, not from mcpwrap.] "
        envelope = dict(msg.envelope)
        envelope["params"] = {**params, "message": prefix + text}
        return Verdict.modify(envelope, {"labelled": "server form"}, reason="a server's form labelled with its origin", rule="approval-form-origin")

    # --- channels ---------------------------------------------------------------------------------------

    def _note_client(self) -> None:
        """Record once per session that this client's forms may not reach a person (see reach.py)."""
        self._client_noted = True
        reach, why = form_reach(self.session)
        if reach == UNRELIABLE and self.context.audit is not None:
            self.context.audit.record("approval-client", client=client_label(self.session), form=reach, reason=why, fallback="notification,terminal")

    def available_channels(self, msg: Message, req: ApprovalRequirement) -> list[str]:
        """The rule's channels this call can use, in the rule's order. Stateless excludes the others."""
        s = self.session
        # A client may probe with a stateless request and fall back to initialize: the version it settled on decides.
        modern = isinstance(s.protocol_version, str) and s.protocol_version >= MODERN_PROTOCOL
        forms = form_reach(s)[0] != NONE
        usable = []
        for channel in req.channels:
            if channel == "elicitation" and not modern and forms:
                usable.append(channel)
            elif channel == "stateless" and modern and msg.method in STATELESS_METHODS and forms:
                if not usable:
                    return ["stateless"]
            elif channel == "terminal":
                usable.append(channel)
        return usable

    def _no_channel_reason(self, msg: Message, req: ApprovalRequirement) -> str:
        wanted = ", ".join(req.channels)
        return (
            f"this call needs a person's approval (rule {req.rule}), but none of the rule's approval channels "
            f"({wanted}) is available: the client cannot show an approval form. Add `terminal` to the rule's "
            "channels and approve from a terminal with `mcpwrap approvals` and `mcpwrap approve` (a desktop "
            "notification carries the code it asks for), or allow this call with a policy rule."
        )

    # --- what a call is, and what an approval of it is remembered as --------------------------------------------

    def _call_key(self, call: dict) -> str:
        """The exact call for remembering: method and params, without a stateless round's transport fields."""
        params = call.get("params")
        bare = {k: v for k, v in params.items() if k not in _ROUND_FIELDS} if isinstance(params, dict) else params
        return call_digest(self.session.server, {"method": call.get("method"), "params": bare})

    def on_approved(self, msg: Message, call: dict, rule: str, remember: str, request_id: Any, seconds: float, audit: Any) -> None:
        """A person approved ``call``: remember it as they chose, and let the server's rounds of it continue."""
        key = self._call_key(call)
        if remember in ("session", "always"):
            self.memory.remember(rule, key)  # "always" also for the rest of this session, whatever the file says
        if remember == "always":
            raw = call.get("params")
            params: dict = raw if isinstance(raw, dict) else {}
            try:
                written = write_override_rule(
                    override_rule(server=self.session.server, tool=str(params.get("name")), arguments=params.get("arguments"), subject=self.session.subject)
                )
                audit("approval-remembered", rule=rule, tool=msg.tool_name, file=str(written))
            except (ApprovalError, ValueError, OSError) as exc:
                audit("approval-remembered", rule=rule, tool=msg.tool_name, error=str(exc))
        if self.session.stateless:
            self.memory.released_approved(request_id, key, min(seconds, CONTINUATION_SECONDS))

    def always_possible(self, msg: Message) -> bool:
        params = msg.params if isinstance(msg.params, dict) else {}
        if msg.method != "tools/call" or not isinstance(params.get("name"), str):
            return False
        try:
            override_rule(server=self.session.server, tool=params["name"], arguments=params.get("arguments"), subject=self.session.subject)
        except ValueError:
            return False
        return True

    def _server_answered(self, msg: Message) -> None:
        result = msg.result if msg.kind is Kind.RESULT else None
        state = result.get("requestState") if isinstance(result, dict) and result.get("resultType") == "input_required" else None
        self.memory.answered(msg.id, state if isinstance(state, str) else None)

    # --- stateless (2026-07-28) -------------------------------------------------------------------------

    def _ask_stateless(self, held: HeldCall, req: ApprovalRequirement) -> None:
        msg: Message = held.msg
        now = time.time()
        call = call_of(msg.method, msg.params)
        fits = form_fits(call_lines(call))
        terminal_later = "terminal" in req.channels and self.settings.desktop_notification and notifier_available()
        fields = dict(id=msg.id, method=msg.method, tool=msg.tool_name, rule=req.rule)
        if not fits and not terminal_later:
            why = "the call is too long to show in full in the client's approval form, and it cannot go to a terminal (" + (
                "the rule has no terminal channel)" if "terminal" not in req.channels else "no desktop notification can carry the terminal's code)"
            )
            held.audit("approval", status="unreached", channel="stateless", choice=why, **fields)
            held.answer(Verdict.block(unreached_reason(req.rule, why), rule=req.rule, interceptor=self.name))
            return
        digest = call_digest(self.session.server, call)
        form = elicitation_params(msg, req, req.timeout, digest, modern_form=True, terminal_later=terminal_later)
        payload = {
            "v": 2,
            "nonce": secrets.token_urlsafe(16),
            "session": self.session.session_id,
            "issued": now,
            "expires": now + req.timeout,
            "rule": req.rule,
            "reason": req.reason,
            "on_timeout": req.on_timeout,
            "remember": req.remember,
            "choices": form["requestedSchema"]["properties"]["decision"]["enum"],
            "terminal": terminal_later,
            "method": msg.method,
            # The call as held, server fields included (a server's own input round is part of the call).
            "params": {k: v for k, v in copy.deepcopy(msg.params if isinstance(msg.params, dict) else {}).items() if k != "_meta"},
        }
        result = {
            "resultType": "input_required",
            "inputRequests": {INPUT_KEY: {"method": "elicitation/create", "params": form}},
            "requestState": sign_state(self.key, payload),
        }
        held.audit("approval", status="requested", channel="stateless", timeout=req.timeout, digest=digest, **fields)
        held.reply({"jsonrpc": "2.0", "id": msg.id, "result": result}, reason="approval asked through input_required")

    def _resume_stateless(self, msg: Message, state: str) -> Verdict:
        def refuse(why: str, status: str = "refused") -> Verdict:
            return Verdict.block(
                f"the approval of this retried call is not valid: {why}; the call was not forwarded", rule="approval-state", details={"approval": status}
            )

        payload = verify_state(self.key, state)
        if payload is None or payload.get("v") != 2:
            return refuse("its requestState is forged or damaged")
        if payload.get("session") != self.session.session_id:
            return refuse("its requestState belongs to another session")
        params = msg.params if isinstance(msg.params, dict) else {}
        frozen = payload.get("params")
        if (
            payload.get("method") != msg.method
            or not isinstance(frozen, dict)
            or self._call_key(call_of(msg.method, frozen)) != self._call_key(call_of(msg.method, params))
        ):
            return refuse("the retried call differs from the call that was put to a person")
        expires = payload.get("expires")
        if not isinstance(expires, (int, float)) or expires < time.time():
            return refuse("the time to approve it has passed", "expired")
        if not isinstance(payload.get("nonce"), str) or not self.memory.use_nonce(payload["nonce"], float(expires)):
            return refuse("its requestState was already used")
        responses = params.get("inputResponses")
        answer = responses.get(INPUT_KEY) if isinstance(responses, dict) else None
        offered = [str(r) for r in payload["remember"]] if isinstance(payload.get("remember"), list) else ["once"]
        choices = tuple(str(c) for c in payload["choices"]) if isinstance(payload.get("choices"), list) else ("deny",)
        decision, remember, what = elicitation_choice(answer, offered, choices)
        seconds = time.time() - float(payload.get("issued", 0) or 0)
        action = answer.get("action") if isinstance(answer, dict) else None
        fast = action in ("decline", "cancel") and seconds < FAST_ANSWER_SECONDS
        rule = str(payload.get("rule") or "approve")
        forward = {"jsonrpc": "2.0", "id": msg.id, "method": msg.method, "params": dict(frozen)}
        if isinstance(params.get("_meta"), dict):
            forward["params"]["_meta"] = params["_meta"]
        call = call_of(msg.method, frozen)
        fields = dict(channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=rule, wait_ms=round(seconds * 1000, 3))

        if decision == TERMINAL_CHOICE or (fast and payload.get("terminal") is True):
            # The person chose the terminal, or the client answered without showing the form: the call waits in
            # the terminal queue, its code goes out by notification.
            need = ApprovalNeed(
                rule=rule,
                reason=str(payload.get("reason") or ""),
                timeout=float(max(1, round(float(expires) - time.time()))),
                on_timeout=str(payload.get("on_timeout") or "deny"),
                channels=("terminal",),
                remember=tuple(offered),
            )

            def hand_off(held: HeldCall) -> None:
                why = what if decision == TERMINAL_CHOICE else f"the client answered the form with {action} {seconds:.2f} s after it was sent: nobody saw it"
                held.audit("approval", status="form-closed" if decision == TERMINAL_CHOICE else "channel-failed", reason=why, **fields)
                Wait(self, held, ApprovalRequirement(need, self.settings), ["terminal"], call, forward=forward).start()

            return Verdict.held(hand_off, reason="waiting for a person's approval in a terminal", rule=rule)

        def decide(held: HeldCall) -> None:
            if fast:
                why = f"the client answered the approval form with {action} {seconds:.2f} s after it was sent, faster than a person can read it"
                held.audit("approval", status="unreached", choice=why, **fields)
                held.answer(Verdict.block(unreached_reason(rule, why), rule=rule, interceptor=self.name))
            elif decision == "approve":
                self.on_approved(msg, call, rule, remember, msg.id, float(expires) - float(payload.get("issued", 0) or 0), held.audit)
                held.audit("approval", status="approved", remember=remember, choice=what, **fields)
                held.release(forward)
            else:
                held.audit("approval", status="denied", choice=what, **fields)
                held.answer(Verdict.block(f"a person did not approve this call (rule {rule})", rule=rule, interceptor=self.name))

        return Verdict.held(decide, reason="answer to an approval request", rule=rule)
