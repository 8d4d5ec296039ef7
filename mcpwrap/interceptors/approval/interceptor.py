"""The approval interceptor: which channel asks a person about a call the policy marked ``approve``.

Each decision about a held call is made elsewhere in this package — the form in :mod:`.form`, the stateless
legs in :mod:`.stateless`, the wait on elicitation and terminal in :mod:`.wait` — and what it leaves behind
in :mod:`.memory`. This module only routes: a retry carrying mcpwrap's state is resumed; a call the person
already approved for the session (or a server's continuation of an approved stateless call) passes; anything
else is held on the first usable channel of the rule, or blocked with instructions when there is none.
"""

from __future__ import annotations

from ..._chain import ChainContext, Interceptor
from ..._config import Config
from ..._message import Direction, HeldCall, Message, Verdict
from ..._protocol import MODERN_PROTOCOL
from ..._state.approvals import ApprovalQueue, load_or_create_key
from . import form, stateless, token
from .memory import SessionMemory
from .settings import APPROVAL_SECTION, INTERCEPTOR_NAME, ApprovalRequirement, ApprovalSettings
from .wait import Wait

__all__ = ["ApprovalInterceptor"]


class ApprovalInterceptor(Interceptor):
    name = INTERCEPTOR_NAME
    sections = (APPROVAL_SECTION,)

    def __init__(self, context: ChainContext, *, queue: ApprovalQueue | None = None, key_path: str | None = None) -> None:
        super().__init__(context)
        self.settings = ApprovalSettings()
        self._fixed_queue = queue  # given by a caller (tests): kept whatever the policy says
        self.queue = queue or ApprovalQueue(None)
        self.key_path = key_path
        self.memory = SessionMemory(self.session)  # kept across reloads: the interceptor lives as long as the session
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
        """The per-installation key of stateless states, read (or created) the first time one is needed."""
        if self._key is None:
            self._key = load_or_create_key(self.key_path)
        return self._key

    def inspect(self, msg: Message) -> Verdict | None:
        if msg.direction is not Direction.CLIENT_TO_SERVER or not msg.is_request:
            return None
        params = msg.params if isinstance(msg.params, dict) else {}
        state = params.get("requestState")
        if isinstance(state, str) and state.startswith(token.STATE_PREFIX):
            return stateless.resume(msg, state, self.key, self.memory)
        need = msg.notes.approval
        if need is None:
            return None
        req = ApprovalRequirement(need, self.settings)
        if isinstance(state, str) and self.memory.is_continuation(token.call_digest(msg.method, params)):
            return Verdict.allow(rule=req.rule, reason="continues a call a person approved", details={"approval": "continuation"})
        if self.memory.is_remembered(req.rule, msg):
            return Verdict.allow(rule=req.rule, reason="approved for this session earlier", details={"approval": "remembered for the session"})
        channels = self.available_channels(msg, req)
        if not channels:
            return Verdict.block(form.no_channel_reason(req), rule=req.rule, details={"approval": "no channel"})
        if channels[0] == "stateless":
            return Verdict.held(lambda held: stateless.ask(held, req, self.key, self.session), reason=f"asking a person (rule {req.rule})", rule=req.rule)
        return Verdict.held(lambda held: self._wait(held, req, channels).start(), reason=f"waiting for a person's approval (rule {req.rule})", rule=req.rule)

    def _wait(self, held: HeldCall, req: ApprovalRequirement, channels: list[str]) -> Wait:
        return Wait(held, req, channels, queue=self.queue, settings=self.settings, memory=self.memory)

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
        usable: list[str] = []
        for channel in req.channels:
            if channel == "elicitation" and not modern and not s.stateless and self._client_has_form_elicitation():
                usable.append(channel)
            elif channel == "stateless" and modern and msg.method in stateless.STATELESS_METHODS and self._client_has_form_elicitation():
                if not usable:
                    return ["stateless"]
            elif channel == "terminal":
                usable.append(channel)
        return usable
