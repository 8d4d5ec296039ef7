"""Redacting a JSON value: which of its strings are read, in which views, and how each is rewritten.

One implementation for the traffic (the secrets interceptor) and for the audit log (recorded arguments, reasons,
details), so a record never holds a secret the redactor would have removed from the traffic.

Every string of the value is scanned by :mod:`mcpwrap.detect.secrets` — values and object keys, whatever the
method, everything but real binary content (:func:`mcpwrap._strings.is_binary_content`) — and in the views a
reader may take of it:

- **as written**;
- **as read**: NFKC with invisible characters removed (:func:`mcpwrap._text.clean_text`), when that differs. A
  key broken up by zero-width characters or written in full-width letters is still the key to a model, and
  the injection sanitiser removes the invisible characters on the way to the client. A string redacted in this
  view is rewritten as its clean form;
- **with its key**: a short string under a key that names a secret is also read as ``"key": "value"``, so the
  detectors that recognise an assignment (``password_assignment``, ``aws_secret_key``, ``basic_auth``) see
  structured JSON as they see the same JSON written out as text;
- **decoded**: a ``blob`` that is not binary content but base64 of UTF-8 text is scanned as that text (a client
  may show it decoded), and re-encoded after redaction.

Keys are rewritten in place; when two keys of one object would become equal, :func:`rewrite` raises
:class:`mcpwrap._strings.KeyCollision` (an ambiguous message must not be forwarded). Nothing here returns a
removed value: :func:`public_path` renders a finding's path with any secret key on the way redacted.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._strings import KeyCollision, iter_strings, json_path, map_strings
from .._text import clean_text
from . import secrets
from .normalize import has_invisible

__all__ = ["Hit", "scan", "scan_string", "rewrite", "public_path", "redact_value", "MAX_CONTEXT_KEY_CHARS", "MAX_CONTEXT_VALUE_CHARS"]

# A key that may name a secret: its string value is also scanned as `"key": "value"` (short values only: the
# detectors that need the key match a value of at most a few hundred characters right after it).
_SECRET_KEY = re.compile(r"pass|pwd|secret|token|auth|cred|key|bearer|cookie|session", re.IGNORECASE)
MAX_CONTEXT_KEY_CHARS = 64
MAX_CONTEXT_VALUE_CHARS = 512
MAX_DECODED_BLOB_CHARS = 16 * 1024 * 1024  # a textual blob longer than this is scanned as it is written


@dataclass(slots=True)
class Hit:
    """Findings in one string: offsets index into ``view`` (the string, its clean form, or a decoded blob)."""

    findings: list
    view: str
    encoding: str | None = None  # ``view`` is the decoded text of a base64/hex/percent-encoded string: re-encode after


def _read_view(text: str) -> str:
    """The string as a reader takes it (NFKC, invisible characters removed); the string itself when equal."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not has_invisible(text)):
        return text
    return clean_text(text)


def _with_context(key: str, text: str, kinds: frozenset, findings: list) -> list:
    """``findings`` plus what the detectors find in ``text`` read as the value of ``"key": "text"``."""
    prefix = '"' + key + '": "'
    start = len(prefix.encode("utf-8"))
    end = start + len(text.encode("utf-8"))
    extra = [
        secrets.Finding(f.kind, f.start - start, f.end - start)
        for f in secrets.scan_text(prefix + text + '"', kinds)
        if f.start >= start and f.end <= end
    ]
    extra = [f for f in extra if all(f.end <= g.start or f.start >= g.end for g in findings)]
    return sorted(findings + extra, key=lambda f: f.start) if extra else findings


MIN_ENCODED_CHARS = 16  # shorter all-hex or all-base64 strings are identifiers and hashes, not hidden text


def _text_of(data: bytes) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except ValueError:
        return None
    return decoded if decoded and all(c.isprintable() or c in "\t\r\n" for c in decoded) else None


def _decoded_views(text: str) -> list[tuple[str, str]]:
    """The readable text a whole string encodes, by encoding: base64 (a ``blob``, an item's ``data``, or any
    string), hex, or percent-encoding. A client or a model may decode any of them, so each is scanned too."""
    if len(text) > MAX_DECODED_BLOB_CHARS * 4 // 3 + 4 or not text.isascii():
        return []
    views = []
    if "%" in text and not any(c.isspace() for c in text[:4096]):  # a URL or an encoded token, not prose
        try:
            unquoted = urllib.parse.unquote(text, errors="strict")
        except UnicodeDecodeError:
            unquoted = text
        if unquoted != text:
            views.append(("percent", unquoted))
    if len(text) >= MIN_ENCODED_CHARS:
        if len(text) % 2 == 0 and text.strip("0123456789abcdefABCDEF") == "":
            decoded = _text_of(bytes.fromhex(text))
            if decoded is not None:
                views.append(("hex", decoded))
        else:
            try:
                decoded = _text_of(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                decoded = None
            if decoded is not None:
                views.append(("base64", decoded))
    return views


def _encode(text: str, encoding: str | None) -> str:
    if encoding == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    if encoding == "hex":
        return text.encode("utf-8").hex()
    if encoding == "percent":
        return urllib.parse.quote(text, safe="")
    return text


def scan_string(path: tuple, text: str, kinds: frozenset) -> Hit | None:
    """The findings in one string of a value (its path decides the views: see the module docstring)."""
    key = path[-1] if path else None
    for encoding, decoded in _decoded_views(text):
        found = secrets.scan_text(decoded, kinds)
        if found:
            return Hit(found, decoded, encoding=encoding)
    view = text
    findings = secrets.scan_text(text, kinds)
    clean = _read_view(text)
    if clean is not text:
        more = secrets.scan_text(clean, kinds)
        if len(more) > len(findings):
            view, findings = clean, more
    if (
        isinstance(key, str)
        and key != "<key>"
        and len(key) <= MAX_CONTEXT_KEY_CHARS
        and len(view) <= MAX_CONTEXT_VALUE_CHARS
        and _SECRET_KEY.search(key)
    ):
        findings = _with_context(key, view, kinds, findings)
    return Hit(findings, view) if findings else None


def scan(value: Any, kinds: frozenset, path: tuple = ()) -> dict[tuple, Hit]:
    """Every string of ``value`` (values and keys) with findings of ``kinds``, by path."""
    hits: dict[tuple, Hit] = {}
    for p, text in iter_strings(value, path, keys=True):
        hit = scan_string(p, text, kinds)
        if hit is not None:
            hits[p] = hit
    return hits


def rewrite(value: Any, hits: dict[tuple, Hit], redact: frozenset | None, counts: Counter, path: tuple = ()) -> Any:
    """``value`` with the findings of ``redact`` kinds (None: all) replaced; raises KeyCollision (see above)."""

    def fn(p: tuple, text: str) -> str | None:
        hit = hits.get(p)
        if hit is None:
            return None
        new = secrets.apply_findings(hit.view, hit.findings, redact, counts)
        if new is hit.view:
            return None  # no finding of a redacting kind: the string stays as written
        return _encode(new, hit.encoding)

    return map_strings(value, fn, path, keys=True)


def public_path(path: tuple, kinds: frozenset | None = None) -> str:
    """A finding's JSON path as it may be reported: a key on the way that is itself a secret appears redacted."""
    return json_path(tuple(secrets.redact_text(part, kinds) if isinstance(part, str) and part != "<key>" else part for part in path))


def redact_value(value: Any, kinds: Iterable[str] | None = None) -> tuple[Any, dict[str, int]]:
    """A copy of ``value`` with every finding (of ``kinds``; None: every detector) redacted, and counts per type.

    For records, not traffic: when redacting keys would make two keys equal, the value is replaced by a note
    instead of being recorded.
    """
    wanted = frozenset(kinds) if kinds is not None else frozenset(secrets.ALL_TYPES)
    counts: Counter = Counter()
    hits = scan(value, wanted)
    if not hits:
        return value, {}
    try:
        new = rewrite(value, hits, None, counts)
    except KeyCollision:
        found = Counter(f.kind for h in hits.values() for f in h.findings)
        return "[not recorded: it holds secrets as object keys that would redact to the same key]", dict(found)
    return new, dict(counts)
