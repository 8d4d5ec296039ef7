"""The interceptor interface and the ordered chain that runs it.

Every concern (policy, schema, secrets, injection, integrity, approval, audit) is one :class:`Interceptor`
subclass. A concern declares the policy-file sections it owns (``sections``) and turns a loaded
:class:`~mcpwrap._config.Config` into its settings with the pure ``settings_from``; the chain hands those
settings to ``configure``, at start and on every reload. The interceptor object itself lives as long as the
session, so what it has learned (rate-limit buckets, pinned definitions, remembered approvals) survives a
reload without any module-global state — as mitmproxy addons keep their state across option changes.

The chain calls ``inspect`` of each *active* interceptor in order on every message:

- ``None`` or a PASS verdict: go on;
- MODIFY: the message's envelope is replaced and the next interceptor sees the new one;
- BLOCK: the chain stops, the message is not forwarded;
- HOLD (requests only): the chain stops, the relay keeps the request and hands a :class:`HeldCall` to the
  verdict's callback;
- a verdict with ``enforce=False`` (``mode: audit``) is recorded and otherwise ignored;
- an exception is a BLOCK (fail closed), with the failure as the reason.

Then ``observe`` of every active interceptor is called with the final :class:`Outcome` (the audit interceptor
writes its record there; stateful interceptors learn from what was really forwarded). An exception in
``observe`` is reported on stderr but cannot un-forward a message; the audit interceptor turns its own write
failures into blocks of the *next* messages according to its failure policy.

Messages with no text (the fast path): interceptors that only read the text of a message — the composition
root names them (``text_readers``) — are not called for a message whose content holds nothing but numbers,
booleans, null, MCP's own field names and a few words shorter than any detector reads (:func:`has_no_text`):
a ``ping``, a progress notification, ``notifications/initialized``, a result such as ``42``. A differential
test runs the real detectors on every message this gate lets past them.

Reload is two-phase: every interceptor's ``settings_from(new_config)`` runs first (any ConfigError aborts the
reload and the previous settings stay everywhere); only then is each ``configure`` called, which must not fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ._config import Config, Section
from ._log import error
from ._message import Action, Message, Session, Verdict

__all__ = ["AuditSink", "ChainContext", "Interceptor", "Chain", "Outcome", "has_no_text"]

# MCP's field names that carry no text a model reads (they are still strings a detector would scan: each is
# checked against every detector by the differential test).
NO_TEXT_KEYS = frozenset(
    {"_meta", "progressToken", "progress", "total", "requestId", "content", "type", "text", "isError", "structuredContent"}
)
# The fields whose value may be a short string (a content item's type, a small result such as "42").
SHORT_TEXT_KEYS = frozenset({"type", "text"})
# Shorter than any detector's shortest input (secrets read 6 characters and more, injection 12), and only
# printable ASCII letters, digits, space and number punctuation: nothing to normalise, decode or sanitise.
_SHORT_TEXT = re.compile(r"[A-Za-z0-9 .+\-]{0,5}")
_SCALARS = (int, float, bool, type(None))  # bool is an int; listed for the reader


def has_no_text(envelope: dict) -> bool:
    """Whether a message's content (``params``, ``result``, ``error``) holds no text to scan: only numbers,
    booleans, null, arrays, and objects whose keys are :data:`NO_TEXT_KEYS`, with strings only under
    :data:`SHORT_TEXT_KEYS` and matching ``_SHORT_TEXT``."""
    for root in ("params", "result", "error"):
        value = envelope.get(root)
        if value is None or isinstance(value, _SCALARS):
            continue
        if not isinstance(value, (dict, list)):
            return False  # a string root: text
        stack: list = [value]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                for k, item in v.items():
                    if k not in NO_TEXT_KEYS:
                        return False
                    if isinstance(item, str):
                        if k not in SHORT_TEXT_KEYS or _SHORT_TEXT.fullmatch(item) is None:
                            return False
                    elif isinstance(item, (dict, list)):
                        stack.append(item)
                    elif not isinstance(item, _SCALARS):
                        return False
            elif isinstance(v, list):
                for item in v:
                    if isinstance(item, (dict, list)):
                        stack.append(item)
                    elif not isinstance(item, _SCALARS):
                        return False  # a string in an array: text
            else:
                return False
    return True


class AuditSink(Protocol):
    """Where interceptors record events of their own (the audit log, or nothing)."""

    def record(self, event: str, **fields: Any) -> object: ...


@dataclass(frozen=True)
class ChainContext:
    """What the composition root gives every interceptor of one session's chain."""

    session: Session
    audit: AuditSink | None = None
    installed: frozenset[str] = frozenset()  # names of the interceptors in this chain (e.g. is "approval" there)


class Interceptor:
    """Base class of a concern. ``name`` appears in audit records and ``_meta.mcpwrap``."""

    name: ClassVar[str] = "interceptor"
    sections: ClassVar[tuple[Section, ...]] = ()  # the policy-file keys this concern owns

    def __init__(self, context: ChainContext) -> None:
        self.context = context
        self.session = context.session
        self.settings: Any = None

    @classmethod
    def settings_from(cls, config: Config) -> Any:
        """This concern's settings in ``config`` (pure; may raise ConfigError, which aborts a reload)."""
        return None

    def configure(self, settings: Any) -> None:
        """Adopt new settings, keeping what was learned so far. Called at start and on every reload; must not
        raise (validation belongs in :meth:`settings_from`)."""
        self.settings = settings

    @property
    def active(self) -> bool:
        """False when the policy turns this concern off: the chain then skips it entirely."""
        return True

    @classmethod
    def from_config(cls, config: Config, context: ChainContext) -> Interceptor:
        """A configured interceptor (what the composition root and tests use)."""
        icpt = cls(context)
        icpt.configure(cls.settings_from(config))
        return icpt

    def inspect(self, msg: Message) -> Verdict | None:
        return None

    def observe(self, msg: Message, outcome: Outcome) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(slots=True)
class Outcome:
    """What the chain decided for one message."""

    action: Action
    decisive: Verdict | None = None  # the blocking verdict, or the last modifying one
    verdicts: list[Verdict] = field(default_factory=list)  # every verdict returned, incl. audit-mode ones

    @property
    def reason(self) -> str:
        return self.decisive.reason if self.decisive else ""

    @property
    def rule(self) -> str | None:
        if self.decisive is not None:
            return self.decisive.rule
        for v in self.verdicts:  # an explicit allow names the rule that let the message through
            if v.rule:
                return v.rule
        return None


class Chain:
    def __init__(self, interceptors: Iterable[Interceptor], *, text_readers: Iterable[str] = ()) -> None:
        """``text_readers``: names of interceptors whose ``inspect`` only reads text, and so returns None for a
        message that has none (:func:`has_no_text`); they are not called for such messages."""
        self.interceptors: tuple[Interceptor, ...] = tuple(interceptors)
        self.text_readers = frozenset(text_readers)
        self._inspectors: tuple[Interceptor, ...] = ()
        self._no_text_inspectors: tuple[Interceptor, ...] | None = None  # None: the same as _inspectors
        self._observers: tuple[Interceptor, ...] = ()
        self._refresh()

    def _refresh(self) -> None:
        # Per-message hot path: call only active interceptors, and only the hooks they override. Each tuple is
        # replaced in one assignment, so a pump reading it mid-reload sees the old or the new one, never a mix.
        active = [i for i in self.interceptors if i.active]
        inspectors = tuple(i for i in active if type(i).inspect is not Interceptor.inspect)
        no_text = tuple(i for i in inspectors if i.name not in self.text_readers)
        self._no_text_inspectors = no_text if len(no_text) < len(inspectors) else None
        self._inspectors = inspectors
        self._observers = tuple(i for i in active if type(i).observe is not Interceptor.observe)

    def configure(self, config: Config) -> None:
        """Give every interceptor its settings from ``config``; all or nothing (see the module docstring)."""
        staged = [(icpt, type(icpt).settings_from(config)) for icpt in self.interceptors]
        for icpt, settings in staged:
            icpt.configure(settings)
        self._refresh()

    def run(self, msg: Message) -> Outcome:
        outcome = Outcome(Action.PASS)
        inspectors = self._inspectors
        no_text = self._no_text_inspectors
        if no_text is not None and has_no_text(msg.envelope):
            inspectors = no_text
        for icpt in inspectors:
            try:
                verdict = icpt.inspect(msg)
            except Exception as exc:  # fail closed: a broken interceptor blocks
                verdict = Verdict.block(
                    f"{icpt.name} failed while inspecting this message ({type(exc).__name__}: {exc}); "
                    "blocked because it could not be examined",
                    rule="interceptor-error",
                )
            if verdict is None:
                continue
            if not verdict.interceptor:
                verdict.interceptor = icpt.name
            outcome.verdicts.append(verdict)
            if not verdict.enforce or verdict.action is Action.PASS:
                continue
            if verdict.action is Action.HOLD and not msg.is_request:
                verdict = Verdict.block(f"{icpt.name} tried to hold a message that is not a request", rule="interceptor-error", interceptor=icpt.name)
                outcome.verdicts.append(verdict)
            if verdict.action is Action.BLOCK or verdict.action is Action.HOLD:
                outcome.action = verdict.action
                outcome.decisive = verdict
                break
            # MODIFY
            if verdict.envelope is None:
                verdict = Verdict.block(f"{icpt.name} returned a modification without a message", rule="interceptor-error", interceptor=icpt.name)
                outcome.verdicts.append(verdict)
                outcome.action = Action.BLOCK
                outcome.decisive = verdict
                break
            msg.envelope = verdict.envelope
            msg.modified = True
            msg.changes.append({"interceptor": verdict.interceptor, "rule": verdict.rule, **(verdict.changes or {})})
            outcome.action = Action.MODIFY
            outcome.decisive = verdict
        return outcome

    def observe(self, msg: Message, outcome: Outcome) -> None:
        for icpt in self._observers:
            try:
                icpt.observe(msg, outcome)
            except Exception as exc:  # pragma: no cover - reported, cannot undo a forward
                error(f"{icpt.name} failed after a decision: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        for icpt in self.interceptors:
            try:
                icpt.close()
            except Exception as exc:  # pragma: no cover
                error(f"{icpt.name} failed to close: {exc}")
