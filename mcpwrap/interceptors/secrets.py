"""Secrets and PII in both directions: detect (audit only), redact, or block — per detector.

What is scanned: every decoded string of ``params`` (requests and notifications) and of ``result`` and
``error`` (responses), in both directions, whatever the method — tool-call arguments, tool results (text,
``structuredContent``, embedded resources), ``resources/read`` contents, ``prompts/get`` messages, sampling
requests and responses, log notifications, and also ``initialize``/``server/discover`` results (server info,
instructions), every ``*/list`` result (tool descriptions and schemas included), ``ping`` results and errors:
a secret reaches a peer whatever method carries it. Object keys are scanned like values (a secret can be sent
as a key). Only real binary content is skipped (see :func:`mcpwrap._strings.is_binary_content`).

Every string is read in the views a reader may take of it (as written; NFKC without invisible characters; with
its key, ``"password": "…"``; a textual ``blob`` decoded): :mod:`mcpwrap.detect.redact`, which the audit log's
redaction shares.

Keys are redacted in place. When two keys of one object would become the same placeholder (or a placeholder
equal to another key), the message would repeat a key — ambiguous, so it is blocked instead
(rule ``secrets-key-collision``).

A redaction replaces the secret inside its string with ``[REDACTED:<type>]`` (see
:mod:`mcpwrap.detect.secrets`); the relay re-encodes the message, so it stays valid JSON and valid MCP, and
adds ``_meta.mcpwrap`` saying which types were redacted how often. Neither the verdict's ``changes`` nor its
``details`` (which go to the audit log) ever contain the secret: only types, counts and JSON paths.

Per-server and per-tool overrides (``servers:``/``tools:``) can turn a detector off or change its action,
e.g. a password-manager tool that is allowed to return passwords.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .._chain import ChainContext
from .._config import Section, expect
from .._errors import ConfigError
from .._message import Direction, Message, Verdict
from .._strings import KeyCollision, content_roots, json_path
from ..detect import ALL_TYPES, PII_TYPES
from ._scoped import Scoped, ScopedInterceptor, boolean, choice, parse_scoped

__all__ = ["SecretsInterceptor", "DETECTOR_ACTIONS", "MAX_REPORTED_PATHS"]

DETECTOR_ACTIONS = ("off", "detect", "redact", "block")
_EVERY_DETECTOR = frozenset(ALL_TYPES)
MAX_REPORTED_PATHS = 20
MAX_CACHED_KINDS = 256  # resolved entries whose active kinds are remembered (one per server/tool in use)
# Addresses and phone numbers are everywhere in ordinary tool output (git logs, contacts, tickets): recorded,
# not removed, unless the policy says so. Everything that grants access is removed.
_DEFAULT_DETECT_ONLY = ("email", "phone")


def _default_detectors() -> dict[str, str]:
    return {t: ("detect" if t in _DEFAULT_DETECT_ONLY else "redact") for t in ALL_TYPES}


def _defaults() -> dict:
    return {"enabled": True, "mode": "enforce", "arguments": True, "results": True, "detectors": _default_detectors()}


def _parse_detectors(raw: Any, path: tuple) -> dict[str, str]:
    expect(raw, dict, path)
    out: dict[str, str] = {}
    for name, action in raw.items():
        if name in ("all", "pii", "secrets"):
            targets = ALL_TYPES if name == "all" else PII_TYPES if name == "pii" else tuple(t for t in ALL_TYPES if t not in PII_TYPES)
        elif name in ALL_TYPES:
            targets = (name,)
        else:
            raise ConfigError(f"unknown detector {name!r} (expected one of: all, pii, secrets, {', '.join(ALL_TYPES)})", path=path + (name,))
        value = expect(action, str, path + (name,))
        if value not in DETECTOR_ACTIONS:
            raise ConfigError(f"must be one of {', '.join(DETECTOR_ACTIONS)} (got {value!r})", path=path + (name,))
        for t in targets:
            out[t] = value
    return out


_FIELDS = {
    "enabled": boolean,
    "mode": choice("enforce", "audit"),
    "arguments": boolean,  # scan what the client sends (tool-call arguments, sampling results)
    "results": boolean,  # scan what the server sends (tool results, resources, prompts, sampling requests)
    "detectors": _parse_detectors,
}


class SecretsSettings(Scoped):
    def redacting_types(self, server: str | None = None, tool: str | None = None) -> list[str]:
        """Types the policy removes from traffic (``redact`` or ``block``): what audit records must not hold."""
        s = self.resolve(server, tool)
        return [t for t, a in s["detectors"].items() if a in ("redact", "block")]


def _parse(raw: Any, path: tuple) -> SecretsSettings:
    scoped = parse_scoped(raw, path, _FIELDS, _defaults)
    return SecretsSettings(scoped.base, scoped.servers, scoped.tools, scoped.server_tools)


def _parse_secrets(raw: Any, path: tuple) -> SecretsSettings:
    return _parse(raw, path)


SECRETS_SECTION = Section("secrets", _parse_secrets, default=lambda: _parse({}, ("secrets",)), doc="secret and PII detection and redaction")


class SecretsInterceptor(ScopedInterceptor):
    name = "secrets"
    section = SECRETS_SECTION
    sections = (SECRETS_SECTION,)

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        self._detector: Any = None
        self._kinds: dict[int, tuple[dict, frozenset]] = {}  # id(detectors of a resolved entry) → (it, active kinds)

    @property
    def detector(self) -> Any:
        """:mod:`mcpwrap.detect.redact` (scan, rewrite, public_path) over the detectors of detect.secrets."""
        # Compiling the patterns costs tens of milliseconds: paid on the first message with content, not at
        # `wrap` start-up (clients start a wrapped server per session and wait for it).
        if self._detector is None:
            from ..detect import redact

            self._detector = redact
        return self._detector

    def inspect(self, msg: Message) -> Verdict | None:
        s = self.settings.resolve(self.session.server, msg.tool_name)
        if not s["enabled"]:
            return None
        from_client = msg.direction is Direction.CLIENT_TO_SERVER
        if (from_client and not s["arguments"]) or (not from_client and not s["results"]):
            return None
        actions: dict[str, str] = s["detectors"]
        # The active kinds of one resolved (server, tool) entry, derived once: a reload resolves new entries.
        cached = self._kinds.get(id(actions))
        if cached is not None and cached[0] is actions:
            kinds = cached[1]
        else:
            kinds = frozenset(t for t, a in actions.items() if a != "off")
            if len(self._kinds) >= MAX_CACHED_KINDS:
                self._kinds.clear()
            self._kinds[id(actions)] = (actions, kinds)
        if not kinds:
            return None
        envelope = msg.envelope
        redactor = self.detector
        found: Counter = Counter()
        hits: dict[tuple, Any] = {}
        for root in content_roots(envelope):
            hits.update(redactor.scan(envelope[root], kinds, (root,)))
        for hit in hits.values():
            found.update(f.kind for f in hit.findings)
        if not found:
            if kinds >= _EVERY_DETECTOR:
                # Read with every detector and nothing found: the audit record's redaction of these params
                # (the same scan, over no more views) would find nothing either.
                msg.notes.secrets_clean = envelope.get("params")
            return None
        enforce = s["mode"] == "enforce"
        by_action: dict[str, list[str]] = {}
        for kind in found:
            by_action.setdefault(actions[kind], []).append(kind)
        where = sorted(redactor.public_path(p, kinds) for p in sorted(hits, key=json_path)[:MAX_REPORTED_PATHS])
        details = {"found": dict(found), "paths": where}
        what = "arguments" if from_client and msg.method == "tools/call" else "content"
        if "block" in by_action:
            kinds_text = ", ".join(sorted(by_action["block"]))
            return Verdict.block(
                f"the {what} contain{'' if what == 'arguments' else 's'} a secret or personal data the policy does not let through ({kinds_text})",
                rule="secrets-block",
                enforce=enforce,
                details=details,
            )
        redact = frozenset(by_action.get("redact", ()))
        if not redact:
            return Verdict.allow(rule="secrets-detect", reason="secrets/PII detected (audit only): " + ", ".join(sorted(found)), details=details)
        counts: Counter = Counter()
        new_envelope = dict(envelope)
        try:
            for root in content_roots(envelope):
                # The findings of the first pass are applied (a 10 MB result is scanned once, not twice); the root
                # key is the path prefix, so the flagged paths (keys included) line up.
                new_envelope[root] = redactor.rewrite(envelope[root], hits, redact, counts, (root,))
        except KeyCollision as exc:
            where_key = redactor.public_path(exc.path, kinds)
            return Verdict.block(
                f"the {what} hold a secret as an object key, and redacting it would leave two keys {exc.key!r} in the "
                f"object at {where_key}: an ambiguous message is not forwarded",
                rule="secrets-key-collision",
                enforce=enforce,
                details={**details, "collision": where_key},
            )
        changes = {"redacted": dict(counts), "paths": where}
        return Verdict.modify(
            new_envelope,
            changes,
            reason="redacted " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
            rule="secrets-redact",
            enforce=enforce,
            details=details,
        )
