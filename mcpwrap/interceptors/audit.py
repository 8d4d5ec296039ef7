"""The audit interceptor: one record per message, written after the chain has decided.

It runs last, in ``observe``, so the record holds the final action, the deciding rule and every verdict that
was only recorded (``mode: audit``). How much of a call it keeps is the ``audit`` section's
``record_arguments``; outside ``full``, reasons and details pass the secrets redactor too, because
interceptors' reasons may quote traffic. The log itself (sealing, locking, rotation, failure policy) is
:class:`mcpwrap._audit.writer.AuditLog`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .._audit.writer import AUDIT_SECTION, AuditLog, AuditSettings, shape_of
from .._chain import ChainContext, Interceptor, Outcome
from .._config import Config
from .._log import warning
from .._message import Action, Kind, Message

__all__ = ["AuditInterceptor"]

_REDACTOR_MISSING = "missing"
_redactor: Any = None  # the secrets redactor, looked up on first use (None: not yet; _REDACTOR_MISSING: absent)


def _get_redactor() -> Any:
    """``mcpwrap.detect.redact.redact_value`` — (value) -> (redacted value, counts), the traffic's redaction with
    every detector — or None if absent."""
    global _redactor
    if _redactor is None:
        try:
            from ..detect.redact import redact_value

            _redactor = redact_value
        except ImportError:
            _redactor = _REDACTOR_MISSING
            warning(
                "audit.record_arguments is 'redacted' but the secrets redactor is not available; "
                "recording argument shapes instead"
            )
    return None if _redactor is _REDACTOR_MISSING else _redactor


def _surely_fits(args: Any, limit: int) -> bool:
    """Whether the stdlib encoding of ``args`` (what a cut record holds) is at most ``limit`` characters, decided
    with orjson (~10x faster) where that is certain: its UTF-8 bytes are at least as many as the characters of
    the stdlib's text, which differs only by writing a float's exponent with a sign (``1e+16`` for ``1e16``), at
    most one character per ``e``. Anything else (an integer beyond 64 bits, a near miss) takes the exact path."""
    try:
        data = orjson.dumps(args, default=str)
    except TypeError:
        return False
    return len(data) + data.count(b"e") <= limit


class AuditInterceptor(Interceptor):
    """Writes one record per message after the chain has decided (the ``observe`` hook). Always last."""

    name = "audit"
    sections = (AUDIT_SECTION,)

    def __init__(self, context: ChainContext, log: AuditLog) -> None:
        super().__init__(context)
        self.log = log
        self.configure(log.settings)

    @classmethod
    def settings_from(cls, config: Config) -> AuditSettings:
        return config["audit"]

    def configure(self, settings: AuditSettings) -> None:
        self.settings = settings
        self.scrub = settings.record_arguments != "full"
        self.log.configure(settings)  # on a reload, the new failure policy and rotation apply from now on

    def observe(self, msg: Message, outcome: Outcome) -> None:
        # The enums are str subclasses: the JSON encoder writes their values, no ``.value`` lookups needed.
        action = outcome.action
        fields: dict[str, Any] = {
            "direction": msg.direction,
            "kind": msg.kind,
            "id": msg.id,
            "method": msg.method,
            "tool": msg.tool_name,
            "action": action,
            "size": len(msg.raw),
        }
        if action is not Action.PASS or outcome.rule:
            fields["rule"] = outcome.rule
        decisive = outcome.decisive
        if decisive is not None:
            fields["reason"] = self._scrubbed(decisive.reason)
            fields["interceptor"] = decisive.interceptor
            if decisive.details:
                fields["details"] = self._scrubbed(decisive.details)
        if msg.changes:
            fields["changes"] = self._scrubbed(msg.changes)
        others = [v for v in outcome.verdicts if v is not decisive and (not v.enforce or v.action is not Action.PASS or v.details)]
        if others:
            fields["verdicts"] = self._scrubbed(
                [
                    {
                        "interceptor": v.interceptor,
                        "action": v.action.value,
                        "enforced": v.enforce,
                        "rule": v.rule,
                        "reason": v.reason,
                        **({"details": v.details} if v.details else {}),
                    }
                    for v in others
                ]
            )
        latency = msg.latency_ms
        if latency is not None:
            fields["latency_ms"] = round(latency, 3)
        if msg.request is not None and msg.request.cancelled:
            fields["cancelled"] = True
        if msg.kind is Kind.REQUEST and msg.method == "tools/call":
            params = msg.params
            args = params.get("arguments") if isinstance(params, dict) else None
            # The secrets interceptor read exactly these params with every detector and found nothing (and
            # nothing replaced them since): they are their own redacted form.
            clean = params is not None and msg.notes.secrets_clean is params
            recorded = self.argument_form(args, fields, clean=clean)
            if recorded is not None:
                fields["arguments"] = recorded
        self.log.record_fields("message", fields)

    def _scrubbed(self, value: Any) -> Any:
        """Interceptors' reasons and details may quote traffic: they pass the redactor like arguments do."""
        if not self.scrub or not value:
            return value
        redact = _get_redactor()
        if redact is None:
            return value
        try:
            return redact(value)[0]
        except Exception as exc:  # fail closed: never record what could not be checked
            return f"[not recorded: the redactor failed ({type(exc).__name__})]"

    def argument_form(self, args: Any, fields: dict | None = None, *, clean: bool = False) -> Any:
        """What the record keeps of a call's arguments; ``fields["arguments_form"]`` says which form it is
        (``shape``, ``redacted``, ``full``, or ``truncated`` when cut), so ``policy test --replay`` knows."""
        mode = self.settings.record_arguments
        if mode == "none" or args is None:
            return None
        form = mode
        if mode == "redacted" and not clean:
            redact = _get_redactor()
            if redact is None:
                form = "shape"
            else:
                try:
                    args, counts = redact(args)
                except Exception as exc:
                    args, form = f"[not recorded: the redactor failed ({type(exc).__name__})]", "unrecorded"
                    counts = None
                if counts and fields is not None:
                    fields["redactions"] = counts
        if form == "shape":
            args = shape_of(args)
        elif form != "unrecorded" and not _surely_fits(args, self.settings.max_argument_chars):
            text = json.dumps(args, ensure_ascii=False, separators=(",", ":"), default=str)
            if len(text) > self.settings.max_argument_chars:
                args, form = text[: self.settings.max_argument_chars] + "…", "truncated"
        if fields is not None:
            fields["arguments_form"] = form
        return args
