"""The approval interceptor: which channel asks the person, and the stateless (2026-07-28) round trip."""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import time
from typing import Any

from ..._chain import ChainContext, Interceptor
from ..._config import Config
from ..._message import Direction, HeldCall, Message, Verdict
from ..._protocol import MODERN_PROTOCOL
from ..._state.approvals import ApprovalError, ApprovalQueue, load_or_create_key, override_rule, write_override_rule
from .form import arguments_of, elicitation_choice, elicitation_params, subject_of
from .memory import SessionMemory
from .settings import APPROVAL_SECTION, INPUT_KEY, STATELESS_METHODS, ApprovalRequirement, ApprovalSettings
from .token import STATE_PREFIX, sign_state, verify_state
from .wait import Wait

__all__ = ["ApprovalInterceptor"]


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
        if msg.direction is not Direction.CLIENT_TO_SERVER or not msg.is_request:
            return None
        params = msg.params if isinstance(msg.params, dict) else {}
        state = params.get("requestState")
        if isinstance(state, str) and state.startswith(STATE_PREFIX):
            return self._resume_stateless(msg, state)
        need = msg.notes.approval
        if need is None:
            return None
        req = ApprovalRequirement(need, self.settings)
        if isinstance(state, str) and self.memory.is_continuation(self._call_digest(msg.method, params)):
            return Verdict.allow(rule=req.rule, reason="continues a call a person approved", details={"approval": "continuation"})
        if (req.rule, subject_of(msg)) in self.memory.remembered:
            return Verdict.allow(rule=req.rule, reason="approved for this session earlier", details={"approval": "remembered for the session"})
        channels = self.available_channels(msg, req)
        if not channels:
            return Verdict.block(self._no_channel_reason(msg, req), rule=req.rule, details={"approval": "no channel"})
        if channels[0] == "stateless":
            return Verdict.held(lambda held: self._ask_stateless(held, req), reason=f"asking a person (rule {req.rule})", rule=req.rule)
        return Verdict.held(lambda held: Wait(self, held, req, channels).start(), reason=f"waiting for a person's approval (rule {req.rule})", rule=req.rule)

    # --- channels ---------------------------------------------------------------------------------------

    def _client_has_form_elicitation(self) -> bool:
        caps = self.session.client_capabilities
        cap = caps.get("elicitation") if isinstance(caps, dict) else None
        if not isinstance(cap, dict):
            return False
        return "form" in cap or "url" not in cap  # an empty object means form mode (2025-06-18)

    def available_channels(self, msg: Message, req: ApprovalRequirement) -> list[str]:
        """The rule's channels this call can use, in the rule's order. Stateless excludes the others."""
        s = self.session
        modern = s.stateless and isinstance(s.protocol_version, str) and s.protocol_version >= MODERN_PROTOCOL
        usable = []
        for channel in req.channels:
            if channel == "elicitation" and not modern and not s.stateless and self._client_has_form_elicitation():
                usable.append(channel)
            elif channel == "stateless" and modern and msg.method in STATELESS_METHODS and self._client_has_form_elicitation():
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
            "channels and approve from a terminal with `mcpwrap approvals` and `mcpwrap approve`, or allow this "
            "call with a policy rule."
        )

    # --- stateless (2026-07-28) -------------------------------------------------------------------------

    def _sign(self, payload: dict) -> str:
        return sign_state(self.key, payload)

    def _verify(self, state: str) -> dict | None:
        return verify_state(self.key, state)

    @staticmethod
    def _call_params(params: dict) -> dict:
        """A request's params without the transport fields: what the person approves."""
        return {k: v for k, v in params.items() if k not in ("_meta", "inputResponses", "requestState")}

    @classmethod
    def _call_digest(cls, method: Any, params: Any) -> str:
        call = cls._call_params(params) if isinstance(params, dict) else params
        return hashlib.sha256(json.dumps([method, call], sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def approved(self, msg: Message, params: Any, seconds: float) -> None:
        """Note an approved call of a stateless session, so the server's own retries of it are not asked again."""
        if self.session.stateless:
            self.memory.approve_continuations(self._call_digest(msg.method, params), seconds)

    def _ask_stateless(self, held: HeldCall, req: ApprovalRequirement) -> None:
        msg: Message = held.msg
        now = time.time()
        payload = {
            "v": 1,
            "nonce": secrets.token_urlsafe(16),
            "session": self.session.session_id,
            "issued": now,
            "expires": now + req.timeout,
            "rule": req.rule,
            "reason": req.reason,
            "remember": req.remember,
            "method": msg.method,
            # The call as held, server fields included (a server's own input round is part of the call).
            "params": {k: v for k, v in copy.deepcopy(msg.params if isinstance(msg.params, dict) else {}).items() if k != "_meta"},
        }
        result = {
            "resultType": "input_required",
            "inputRequests": {
                INPUT_KEY: {"method": "elicitation/create", "params": elicitation_params(msg, req, req.timeout, modern_form=True)}
            },
            "requestState": self._sign(payload),
        }
        held.audit("approval", status="requested", channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=req.rule, timeout=req.timeout)
        held.reply({"jsonrpc": "2.0", "id": msg.id, "result": result}, reason="approval asked through input_required")

    def _resume_stateless(self, msg: Message, state: str) -> Verdict:
        def refuse(why: str, status: str = "refused") -> Verdict:
            return Verdict.block(
                f"the approval of this retried call is not valid: {why}; the call was not forwarded", rule="approval-state", details={"approval": status}
            )

        payload = self._verify(state)
        if payload is None:
            return refuse("its requestState is forged or damaged")
        if payload.get("session") != self.session.session_id:
            return refuse("its requestState belongs to another session")
        params = msg.params if isinstance(msg.params, dict) else {}
        frozen = payload.get("params")
        if payload.get("method") != msg.method or not isinstance(frozen, dict) or self._call_params(frozen) != self._call_params(params):
            return refuse("the retried call differs from the call that was put to a person")
        expires = payload.get("expires")
        if not isinstance(expires, (int, float)) or expires < time.time():
            return refuse("the time to approve it has passed", "expired")
        if not isinstance(payload.get("nonce"), str) or not self.memory.use_nonce(payload["nonce"], float(expires)):
            return refuse("its requestState was already used")
        responses = params.get("inputResponses")
        answer = responses.get(INPUT_KEY) if isinstance(responses, dict) else None
        raw_offered = payload.get("remember")
        offered = [str(r) for r in raw_offered] if isinstance(raw_offered, list) else ["once"]
        decision, remember, what = elicitation_choice(answer, offered)
        rule = str(payload.get("rule") or "approve")
        forward = {"jsonrpc": "2.0", "id": msg.id, "method": msg.method, "params": dict(payload["params"])}
        if isinstance(params.get("_meta"), dict):
            forward["params"]["_meta"] = params["_meta"]
        wait_ms = round((time.time() - float(payload.get("issued", time.time()))) * 1000, 3)

        def decide(held: HeldCall) -> None:
            fields = dict(channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=rule, wait_ms=wait_ms, choice=what)
            if decision == "approve":
                self._remember(msg, rule, remember, payload["params"].get("arguments"), held.audit)
                self.approved(msg, payload["params"], float(expires) - float(payload.get("issued", 0) or 0))
                held.audit("approval", status="approved", remember=remember, **fields)
                held.release(forward)
            else:
                held.audit("approval", status="denied", **fields)
                held.answer(Verdict.block(f"a person did not approve this call (rule {rule})", rule=rule, interceptor=self.name))

        return Verdict.held(decide, reason="answer to an approval request", rule=rule)

    # --- remembering ------------------------------------------------------------------------------------

    def _remember(self, msg: Message, rule: str, remember: str, arguments: Any, audit: Any) -> None:
        if remember == "session":
            with self.memory.lock:
                self.memory.remembered.add((rule, subject_of(msg)))
        elif remember == "always":
            try:
                written = write_override_rule(override_rule(server=self.session.server, tool=subject_of(msg), arguments=arguments))
                audit("approval-remembered", rule=rule, tool=msg.tool_name, file=str(written))
            except (ApprovalError, ValueError, OSError) as exc:
                audit("approval-remembered", rule=rule, tool=msg.tool_name, error=str(exc))
            with self.memory.lock:  # also for the rest of this session, whatever the file says
                self.memory.remembered.add((rule, subject_of(msg)))

    def always_possible(self, msg: Message) -> bool:
        if msg.method != "tools/call":
            return False
        try:
            override_rule(server=self.session.server, tool=subject_of(msg), arguments=arguments_of(msg))
        except ValueError:
            return False
        return True
