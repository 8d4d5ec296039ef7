"""Human approval: a call matching an ``approve`` rule is held until a person decides it.

The policy interceptor decides *whether* a call needs approval; it passes the call with
``msg.notes.approval`` (an :class:`~mcpwrap._message.ApprovalNeed`: rule, reason, timeout, on_timeout,
channels, remember). This interceptor, last before audit, decides *how* a person is asked:

- ``elicitation`` (the client declared the capability at ``initialize``): the call is held (HOLD verdict)
  and mcpwrap sends its own ``elicitation/create`` to the client — server, tool, the arguments, the rule and
  why, and a small form (decision, remember). The client's answer is routed to mcpwrap, never to the server.
- ``stateless`` (a 2026-07-28 client, which servers must not send requests to): the call is answered at once
  with ``resultType: "input_required"`` carrying the same form as an input request and a ``requestState``
  that holds the frozen call, HMAC-protected with the per-installation key and bound to this session, with a
  one-time nonce and an expiry. The client's retry (new id, ``inputResponses`` + ``requestState``) is
  verified; on approval mcpwrap forwards the *frozen* call under the retry's id, without its own fields. A
  forged, damaged, replayed, expired or altered retry is refused.
- ``terminal``: the call is queued under ``$MCPWRAP_HOME/approvals`` (:mod:`mcpwrap._state.approvals`) for
  ``mcpwrap approvals`` / ``approve`` / ``deny`` in another terminal; optionally a desktop notification.

Channels are tried in the rule's order; elicitation and terminal listen together while a call is held (the
first decision wins and the other is withdrawn). No available channel → the block contract, with a reason that
says how to approve. Nothing the model reads ever carries an approval id, state or link: block reasons name
the command and the rule only.

While a call is held, a request that carried a ``progressToken`` gets ``notifications/progress`` every
``progress_interval`` seconds and may wait the rule's whole ``timeout``. A request without one is decided
within ``max_wait_without_progress`` (default 55 s): the TypeScript SDK, which most clients use, fails a
request after 60 s (``DEFAULT_REQUEST_TIMEOUT_MSEC``). At the deadline the rule's ``on_timeout`` applies.

What the person approves is what the server receives: the relay freezes the request's bytes when it is held,
and a release forwards exactly those bytes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

from .._chain import ChainContext, Interceptor
from .._config import Config, ConfigError, Section, check_keys, expect
from .._message import APPROVAL_CHANNELS, DEFAULT_APPROVAL_TIMEOUT, ApprovalNeed, Direction, HeldCall, Message, Verdict
from .._protocol import FORM_ELICITATION_PROTOCOL, MODERN_PROTOCOL
from .._state.approvals import (
    REMEMBER_CHOICES,
    ApprovalError,
    ApprovalQueue,
    digest_of,
    load_or_create_key,
    override_rule,
    write_override_rule,
)

__all__ = ["ApprovalSettings", "ApprovalInterceptor", "STATE_PREFIX", "INPUT_KEY"]

ON_TIMEOUT = ("deny", "allow")
# The TypeScript SDK (most clients) fails a request after 60 s unless it was sent with a longer timeout;
# answering a little before keeps the client from giving up on a call mcpwrap still holds.
DEFAULT_MAX_WAIT_WITHOUT_PROGRESS = 55.0
DEFAULT_PROGRESS_INTERVAL = 10.0
TERMINAL_POLL_INTERVAL = 0.2  # how often a held call looks for a decision written by `mcpwrap approve`
STATE_PREFIX = "mcpwrap1."
INPUT_KEY = "mcpwrap.approval"  # the key of mcpwrap's input request in a stateless input_required result
STATELESS_METHODS = ("tools/call", "prompts/get", "resources/read")  # the methods that may be input_required
_SUMMARY_VALUE_CHARS = 300
_SUMMARY_TOTAL_CHARS = 2000


class ApprovalSettings:
    __slots__ = ("default_timeout", "max_wait_without_progress", "progress_interval", "queue", "desktop_notification")

    def __init__(self) -> None:
        self.default_timeout = DEFAULT_APPROVAL_TIMEOUT
        self.max_wait_without_progress = DEFAULT_MAX_WAIT_WITHOUT_PROGRESS
        self.progress_interval = DEFAULT_PROGRESS_INTERVAL
        self.queue: str | None = None
        self.desktop_notification = False


def _positive(raw: Any, path: tuple) -> float:
    value = expect(raw, (int, float), path, "number")
    if value <= 0:
        raise ConfigError("must be a positive number of seconds", path=path)
    return float(value)


def _parse_approval(raw: Any, path: tuple) -> ApprovalSettings:
    expect(raw, dict, path)
    check_keys(raw, set(ApprovalSettings.__slots__), path)
    s = ApprovalSettings()
    for key in ("default_timeout", "max_wait_without_progress", "progress_interval"):
        if key in raw:
            setattr(s, key, _positive(raw[key], path + (key,)))
    if "queue" in raw:
        s.queue = os.path.expanduser(expect(raw["queue"], str, path + ("queue",)))
    if "desktop_notification" in raw:
        s.desktop_notification = expect(raw["desktop_notification"], bool, path + ("desktop_notification",))
    return s


APPROVAL_SECTION = Section("approval", _parse_approval, default=ApprovalSettings, doc="how held calls wait for a person (rules with action approve)")


class ApprovalRequirement:
    """The policy's requirement, checked: a malformed one raises, and the chain blocks the call (fail closed)."""

    __slots__ = ("rule", "timeout", "on_timeout", "channels", "remember", "reason")

    def __init__(self, need: ApprovalNeed, settings: ApprovalSettings) -> None:
        if not isinstance(need, ApprovalNeed):
            raise TypeError("the approval requirement is not an ApprovalNeed")
        self.rule = need.rule or "approve"
        timeout = need.timeout
        self.timeout = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 else settings.default_timeout
        self.on_timeout = need.on_timeout or "deny"
        if self.on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}")
        channels = list(need.channels) or list(APPROVAL_CHANNELS)
        remember = list(need.remember) or ["once"]
        if any(c not in APPROVAL_CHANNELS for c in channels):
            raise ValueError(f"channels must be a list of {', '.join(APPROVAL_CHANNELS)}")
        if any(r not in REMEMBER_CHOICES for r in remember):
            raise ValueError(f"remember must be a list of {', '.join(REMEMBER_CHOICES)}")
        self.channels: list[str] = list(dict.fromkeys(channels))
        self.remember: list[str] = list(dict.fromkeys(["once", *remember]))  # approving just this call is always possible
        self.reason = need.reason or ""


class _SessionMemory:
    """What the interceptor learns over a session: approvals remembered for the session, used nonces."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remembered: set[tuple[str, str]] = set()
        self.used_nonces: dict[str, float] = {}  # nonce → expiry (pruned when past)
        # Approved calls of a stateless session: the server may answer one with its own input_required, and the
        # client's retry (same call, the server's requestState) continues the approved call — not a new one.
        self.continuations: dict[str, float] = {}  # digest of the call → expiry

    def approve_continuations(self, digest: str, seconds: float) -> None:
        with self.lock:
            self.continuations[digest] = time.time() + seconds

    def is_continuation(self, digest: str) -> bool:
        now = time.time()
        with self.lock:
            for d, exp in list(self.continuations.items()):
                if exp < now:
                    del self.continuations[d]
            return digest in self.continuations

    def use_nonce(self, nonce: str, expires: float) -> bool:
        now = time.time()
        with self.lock:
            for n, exp in list(self.used_nonces.items()):
                if exp < now:
                    del self.used_nonces[n]
            if nonce in self.used_nonces:
                return False
            self.used_nonces[nonce] = expires
            return True


# --- what the person sees -----------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """``text`` as is when a person can read it safely, else escaped.

    Names and values come from the model: a newline, a bidirectional override or another invisible character
    could make the form or the terminal listing show something other than the call (a forged "Rule:" line).
    """
    return text if text.isprintable() else json.dumps(text)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if text.isprintable() else json.dumps(value)  # ASCII escapes for anything invisible


def _subject_of(msg: Message) -> str:
    """The thing a call acts on: the tool, prompt or resource."""
    params = msg.params if isinstance(msg.params, dict) else {}
    if msg.method == "tools/call":
        return _printable(str(params.get("name")))
    if msg.method == "prompts/get":
        return f"prompt {_printable(str(params.get('name')))}"
    if msg.method == "resources/read":
        return f"resource {_printable(str(params.get('uri')))}"
    return _printable(str(msg.method))


def _arguments_of(msg: Message) -> Any:
    params = msg.params if isinstance(msg.params, dict) else {}
    return params.get("arguments")


def summarize_arguments(arguments: Any) -> str:
    """A readable, bounded rendering of a call's arguments (one line per argument)."""
    if arguments is None:
        return "(no arguments)"
    if not isinstance(arguments, dict):
        text = _show(arguments)
        return text[:_SUMMARY_TOTAL_CHARS] + ("…" if len(text) > _SUMMARY_TOTAL_CHARS else "")
    lines = []
    total = 0
    for key, value in arguments.items():
        text = _show(value)
        if len(text) > _SUMMARY_VALUE_CHARS:
            text = text[:_SUMMARY_VALUE_CHARS] + f"… ({len(text)} characters)"
        line = f"{_printable(str(key))}: {text}"
        total += len(line)
        if total > _SUMMARY_TOTAL_CHARS:
            lines.append(f"… and {len(arguments) - len(lines)} more")
            break
        lines.append(line)
    return "\n".join(lines) if lines else "(no arguments)"


def _elicitation_params(msg: Message, req: ApprovalRequirement, wait: float, *, modern_form: bool) -> dict:
    session = msg.session
    lines = [
        f"mcpwrap: approve this call to the MCP server {session.server!r}?",
        "",
        f"{'Tool' if msg.method == 'tools/call' else 'Request'}: {_subject_of(msg)}",
    ]
    if msg.method == "tools/call":
        lines += ["Arguments:", *("  " + line for line in summarize_arguments(_arguments_of(msg)).splitlines())]
    lines += ["", f"Rule: {req.rule}" + (f" — {req.reason}" if req.reason else "")]
    lines.append(f"The call waits for your decision (up to {int(wait)} s); no answer means {req.on_timeout}.")
    schema: dict = {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "title": "Decision", "enum": ["approve", "deny"], "description": "Run this call, or refuse it"},
        },
        "required": ["decision"],
    }
    if len(req.remember) > 1:
        schema["properties"]["remember"] = {
            "type": "string",
            "title": "Remember",
            "enum": req.remember,
            "default": "once",
            "description": "once: only this call; session: this tool until the client disconnects; "
            "always: this tool with exactly these arguments, from now on",
        }
    params: dict = {"message": "\n".join(lines), "requestedSchema": schema}
    if modern_form:
        params["mode"] = "form"
    return params


def _elicitation_choice(result: Any, offered: list[str]) -> tuple[str, str, str]:
    """(decision, remember, what the person did) from an elicitation result; anything unclear is a denial."""
    if not isinstance(result, dict):
        return "deny", "once", "invalid answer"
    action = result.get("action")
    if action != "accept":
        return "deny", "once", str(action) if action in ("decline", "cancel") else "invalid answer"
    content = result.get("content") if isinstance(result.get("content"), dict) else {}
    if content.get("decision") != "approve":
        return "deny", "once", "chose deny"
    remember = content.get("remember", "once")
    return "approve", remember if remember in offered else "once", "chose approve"


# --- the interceptor ----------------------------------------------------------------------------------------


class ApprovalInterceptor(Interceptor):
    name = "approval"
    sections = (APPROVAL_SECTION,)

    def __init__(self, context: ChainContext, *, queue: ApprovalQueue | None = None, key_path: str | None = None) -> None:
        super().__init__(context)
        self.settings = ApprovalSettings()
        self._fixed_queue = queue  # given by a caller (tests): kept whatever the policy says
        self.queue = queue or ApprovalQueue(None)
        self.key_path = key_path
        self.memory = _SessionMemory()  # kept across reloads: the interceptor lives as long as the session
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
        if (req.rule, _subject_of(msg)) in self.memory.remembered:
            return Verdict.allow(rule=req.rule, reason="approved for this session earlier", details={"approval": "remembered for the session"})
        channels = self.available_channels(msg, req)
        if not channels:
            return Verdict.block(self._no_channel_reason(msg, req), rule=req.rule, details={"approval": "no channel"})
        if channels[0] == "stateless":
            return Verdict.held(lambda held: self._ask_stateless(held, req), reason=f"asking a person (rule {req.rule})", rule=req.rule)
        return Verdict.held(lambda held: _Wait(self, held, req, channels).start(), reason=f"waiting for a person's approval (rule {req.rule})", rule=req.rule)

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
        body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).rstrip(b"=").decode("ascii")
        mac = hmac.new(self.key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
        return STATE_PREFIX + body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _verify(self, state: str) -> dict | None:
        rest = state[len(STATE_PREFIX) :]
        body, dot, mac_text = rest.rpartition(".")
        if not dot or not body:
            return None
        try:
            mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
            expected = hmac.new(self.key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
            if not hmac.compare_digest(mac, expected):
                return None
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, UnicodeError):
            return None
        return payload if isinstance(payload, dict) else None

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
                INPUT_KEY: {"method": "elicitation/create", "params": _elicitation_params(msg, req, req.timeout, modern_form=True)}
            },
            "requestState": self._sign(payload),
        }
        held.audit("approval", status="requested", channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=req.rule, timeout=req.timeout)
        held.reply({"jsonrpc": "2.0", "id": msg.id, "result": result}, reason="approval asked through input_required")

    def _resume_stateless(self, msg: Message, state: str) -> Verdict:
        def refuse(why: str, status: str = "refused") -> Verdict:
            return Verdict.block(f"the approval of this retried call is not valid: {why}; the call was not forwarded", rule="approval-state", details={"approval": status})

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
        offered = payload.get("remember") if isinstance(payload.get("remember"), list) else ["once"]
        decision, remember, what = _elicitation_choice(answer, offered)
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
                self.memory.remembered.add((rule, _subject_of(msg)))
        elif remember == "always":
            try:
                written = write_override_rule(override_rule(server=self.session.server, tool=_subject_of(msg), arguments=arguments))
                audit("approval-remembered", rule=rule, tool=msg.tool_name, file=str(written))
            except (ApprovalError, ValueError, OSError) as exc:
                audit("approval-remembered", rule=rule, tool=msg.tool_name, error=str(exc))
            with self.memory.lock:  # also for the rest of this session, whatever the file says
                self.memory.remembered.add((rule, _subject_of(msg)))

    def always_possible(self, msg: Message) -> bool:
        if msg.method != "tools/call":
            return False
        try:
            override_rule(server=self.session.server, tool=_subject_of(msg), arguments=_arguments_of(msg))
        except ValueError:
            return False
        return True


class _Wait:
    """One held call waiting for a person: elicitation and terminal listen together; the first answer wins."""

    def __init__(self, icpt: ApprovalInterceptor, held: HeldCall, req: ApprovalRequirement, channels: list[str]) -> None:
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
            params = _elicitation_params(self.msg, self.req, self.wait, modern_form=version >= FORM_ELICITATION_PROTOCOL)
            self.elicitation_id = self.held.ask_client("elicitation/create", params, self._on_elicitation)
            if self.elicitation_id is None:
                self.channels = [c for c in self.channels if c != "elicitation"]
        if not self.channels:
            self._finish("denied", None, "no approval channel could be used", block_reason=self.icpt._no_channel_reason(self.msg, self.req))
            return
        self.held.audit("approval", status="requested", channel=",".join(self.channels), approval=self.approval_id, timeout=self.wait, **fields)
        if self.approval_id is not None and self.icpt.settings.desktop_notification:
            _notify_desktop(self.msg.session.server, _subject_of(self.msg), self.approval_id)
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
            "tool": _subject_of(self.msg),
            "arguments": summarize_arguments(_arguments_of(self.msg)) if self.msg.method == "tools/call" else None,
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
                self.elicited = _elicitation_choice(envelope.get("result"), self.req.remember)
        self.wake.set()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # fail closed: a broken wait denies, it never forwards
            self._finish("denied", None, "internal error", block_reason=f"the approval could not be completed ({type(exc).__name__}); the call was not forwarded")

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
                    decision = decision_record.get("decision")
                    remember = decision_record.get("remember") if decision_record.get("remember") in self.req.remember else "once"
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

    def _finish(self, status: str, channel: str | None, what: str, *, remember: str | None = None, answer: bool = True, block_reason: str | None = None) -> None:
        with self.lock:
            if self.finished:
                return
            self.finished = True
        self._withdraw()
        wait_ms = round((time.monotonic() - self.started) * 1000, 3)
        fields = self._fields()
        release = status == "approved" or (status == "timed-out" and self.req.on_timeout == "allow")
        if status == "approved":
            self.icpt._remember(self.msg, self.req.rule, remember or "once", _arguments_of(self.msg), self.held.audit)
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


def _notify_desktop(server: str, tool: str, approval_id: str) -> None:
    """Best effort: a desktop notification where the platform has a standard command for it."""
    title = "mcpwrap: approval needed"
    body = f"{server}: {tool} — run `mcpwrap approve {approval_id}` or `mcpwrap deny {approval_id}`"
    if sys.platform == "darwin" and shutil.which("osascript"):
        cmd = ["osascript", "-e", f"display notification {json.dumps(body)} with title {json.dumps(title)}"]
    elif shutil.which("notify-send"):
        cmd = ["notify-send", "--app-name=mcpwrap", title, body]
    else:
        return
    try:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
    except OSError:
        pass
