"""The regular-expression engine the detectors use: RE2 (linear time) when installed, ``re`` otherwise.

Detectors run over every byte a server returns, so their patterns must never backtrack: RE2 guarantees linear
time and scans a 10 MB text 10–100× faster than ``re`` with the same alternation (see docs/benchmarks.md).
Patterns are written in the common subset of both syntaxes (no look-around, no back-references) and compiled
for ``bytes``: detectors work on UTF-8, so offsets are byte offsets and the string → bytes step is a single
``encode`` (RE2 would otherwise re-encode the text on every call).
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["compile_bytes", "utf8", "ENGINE", "ENGINE_ENV"]

# Diagnostic switch used by benchmarks/bench_content.py to measure the same detectors on Python's engine.
ENGINE_ENV = "MCPWRAP_REGEX_ENGINE"

_re2: Any = None
ENGINE = "re"
if os.environ.get(ENGINE_ENV, "re2") != "re":
    try:  # pragma: no branch - which engine is present depends on the installation
        import re2 as _re2

        ENGINE = "re2"
    except ImportError:  # pragma: no cover - google-re2 is a dependency; this keeps a broken install usable
        _re2 = None

_RE2_OPTIONS: Any = None


def compile_bytes(pattern: str, fallback: str | None = None) -> Any:
    """Compile ``pattern`` for bytes input with the linear-time engine when available.

    ``fallback`` replaces a pattern that uses RE2-only syntax (``\\x{…}`` Unicode classes) under ``re``.
    """
    if _re2 is not None:
        global _RE2_OPTIONS
        if _RE2_OPTIONS is None:
            _RE2_OPTIONS = _re2.Options()
            _RE2_OPTIONS.max_mem = 64 << 20  # large alternations keep their DFA instead of falling back to NFA
        return _re2.compile(pattern.encode("utf-8"), _RE2_OPTIONS)
    return re.compile((fallback or pattern).encode("utf-8"))


_last_text: Any = None
_last_bytes: bytes = b""


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 (lone surrogates kept), remembering the last one: the secrets and injection
    detectors scan the same string values one after the other, so a 10 MB result is encoded once."""
    global _last_text, _last_bytes
    if text is _last_text:
        return _last_bytes
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (JSON allows "\ud800"): keep them rather than fail
        data = text.encode("utf-8", "surrogatepass")
    if len(text) > 4096:  # only worth remembering for large strings
        _last_text, _last_bytes = text, data
    return data
