"""The interceptor interface and the ordered chain that runs it.

Every concern (policy, schema, secrets, injection, rate limits, integrity, approval, audit) is one
:class:`Interceptor`. The chain calls ``inspect`` of each in order on every message:

- ``None`` or a PASS verdict: go on;
- MODIFY: the message's envelope is replaced and the next interceptor sees the new one;
- BLOCK: the chain stops, the message is not forwarded;
- HOLD (requests only): the chain stops, the relay keeps the request and hands it to the verdict's callback;
- a verdict with ``enforce=False`` (``mode: audit``) is recorded and otherwise ignored;
- an exception is a BLOCK (fail closed), with the failure as the reason.

Then ``observe`` of every interceptor is called with the final :class:`Outcome` (the audit interceptor writes
its record there; stateful interceptors learn from what was really forwarded). An exception in ``observe`` is
reported on stderr but cannot un-forward a message; the audit interceptor turns its own write failures into
blocks of the *next* messages according to its failure policy.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Iterable

from ._message import Action, Message, Verdict

__all__ = ["Interceptor", "Chain", "Outcome"]


class Interceptor:
    """Base class: override ``inspect`` and/or ``observe``. ``name`` appears in audit records and _meta."""

    name = "interceptor"

    def inspect(self, msg: Message) -> Verdict | None:  # noqa: D401 - hook
        return None

    def observe(self, msg: Message, outcome: "Outcome") -> None:
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
    def __init__(self, interceptors: Iterable[Interceptor]) -> None:
        self.interceptors: tuple[Interceptor, ...] = tuple(interceptors)
        # Per-message hot path: call only the hooks an interceptor actually overrides.
        self._inspectors = tuple(i for i in self.interceptors if type(i).inspect is not Interceptor.inspect)
        self._observers = tuple(i for i in self.interceptors if type(i).observe is not Interceptor.observe)

    def run(self, msg: Message) -> Outcome:
        outcome = Outcome(Action.PASS)
        for icpt in self._inspectors:
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
                print(f"mcpwrap: {icpt.name} failed after a decision: {type(exc).__name__}: {exc}", file=sys.stderr)

    def close(self) -> None:
        for icpt in self.interceptors:
            try:
                icpt.close()
            except Exception as exc:  # pragma: no cover
                print(f"mcpwrap: {icpt.name} failed to close: {exc}", file=sys.stderr)
