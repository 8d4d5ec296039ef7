"""Linear-time regular expressions (RE2), for every pattern mcpwrap runs.

Nothing a client, a server or a policy file supplies may be able to hang the wrapper. Python's ``re``
backtracks (``(a+)+$`` on 30 characters takes seconds); RE2 runs in time linear in the input, rejects
constructs that cannot be matched that way (backreferences, look-around), and bounds the memory a compiled
pattern may take. It is also the syntax mcpgw's Go ``regexp`` uses, so mcpgw patterns mean the same here.

Two uses:
- :func:`compile_regex` — patterns from outside (policy rules, a server's JSON Schema ``pattern``): RE2 only;
  a pattern RE2 refuses raises :class:`RegexError`.
- :func:`compile_bytes` — mcpwrap's own detector patterns, compiled for ``bytes``: detectors work on UTF-8, so
  offsets are byte offsets and the string → bytes step is a single ``encode`` (:func:`utf8`; RE2 would
  otherwise re-encode the text on every call). ``MCPWRAP_REGEX_ENGINE=re`` switches these to Python's engine,
  for benchmarks/bench_content.py to compare the two.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["compile_regex", "compile_bytes", "SignalSet", "search_span", "finditer_spans", "utf8", "RegexError", "MAX_PATTERN_MEMORY", "DETECTOR_MEMORY", "ENGINE", "ENGINE_ENV"]

MAX_PATTERN_MEMORY = 8 << 20  # bytes one outside pattern may use; a larger one is refused at load time
DETECTOR_MEMORY = 64 << 20  # mcpwrap's large detector alternations keep their DFA instead of falling back to NFA
ENGINE_ENV = "MCPWRAP_REGEX_ENGINE"
ENGINE = "re" if os.environ.get(ENGINE_ENV, "re2") == "re" else "re2"


class RegexError(ValueError):
    pass


def _options(re2: Any, max_mem: int, case_sensitive: bool = True) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr itself
    options.max_mem = max_mem
    options.case_sensitive = case_sensitive
    return options


def compile_regex(pattern: str, *, case_sensitive: bool = True) -> Any:
    """Compile an outside pattern with RE2; raise :class:`RegexError` (with RE2's reason) if RE2 refuses it."""
    import re2

    try:
        return re2.compile(pattern, _options(re2, MAX_PATTERN_MEMORY, case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(str(reason)) from None
    except (TypeError, ValueError) as exc:
        raise RegexError(str(exc)) from None


def compile_bytes(pattern: str, fallback: str | None = None) -> Any:
    """Compile one of mcpwrap's detector patterns for bytes input.

    ``fallback`` replaces a pattern that uses RE2-only syntax (``\\x{…}`` Unicode classes) under ``re``.
    """
    if ENGINE == "re2":
        import re2

        return re2.compile(pattern.encode("utf-8"), _options(re2, DETECTOR_MEMORY))
    return re.compile((fallback or pattern).encode("utf-8"))


class SignalSet:
    """Which of several detector patterns occur in a stretch of bytes, in one pass.

    With RE2 this is an ``RE2::Set`` (one DFA for all patterns) run over the stretch as a text of its own:
    that is a superset of what each pattern finds with ``search(buf, start, end)`` (``^`` and ``\\b`` may
    match at the edges of the stretch), so every pattern the set reports is confirmed with its own exact
    search, and a pattern it does not report cannot match. A set's DFA does not give up when it is slow
    (RE2 only lets single-pattern searches fall back to the NFA), so "no match" from the set is an answer.
    Under ``re`` it is just every pattern's search.
    """

    def __init__(self, patterns: dict[str, str]) -> None:
        self.names = list(patterns)
        self.exact = {name: compile_bytes(p) for name, p in patterns.items()}
        self._set: Any = None
        if ENGINE == "re2":
            import re2

            self._set = re2._re2.Set(re2._Anchor.UNANCHORED, _options(re2, DETECTOR_MEMORY))
            for p in patterns.values():
                if self._set.Add(p.encode("utf-8")) < 0:
                    raise RegexError(f"pattern refused by RE2::Set: {p[:60]!r}")
            if not self._set.Compile():
                raise RegexError("RE2::Set did not compile")

    def search(self, buf: bytes, start: int = 0, end: int | None = None) -> set[str]:
        end = len(buf) if end is None else end
        if self._set is None:
            candidates = self.names
        else:
            candidates = [self.names[i] for i in self._set.Match(memoryview(buf)[start:end])]
        return {name for name in candidates if self.exact[name].search(buf, start, end) is not None}


def search_span(rx: Any, buf: bytes, pos: int, endpos: int) -> tuple[int, int] | None:
    """``rx.search(buf, pos, endpos).span()`` (None when there is no match) for a detector pattern from
    :func:`compile_bytes`, with ``0 <= pos <= endpos <= len(buf)``.

    With RE2 this calls the compiled program directly: the Python wrapper builds a generator and a match
    object per call (a few microseconds), which adds up over the thousands of candidates in a large text.
    """
    if ENGINE == "re2":
        global _UNANCHORED
        if _UNANCHORED is None:
            import re2

            _UNANCHORED = re2._Anchor.UNANCHORED
        span = rx._regexp.Match(_UNANCHORED, buf, pos, endpos)[0]
        return None if span[0] < 0 else span
    m = rx.search(buf, pos, endpos)
    return None if m is None else m.span()


def finditer_spans(rx: Any, buf: bytes, pos: int = 0, endpos: int | None = None) -> Any:
    """Spans of ``rx.finditer(buf, pos, endpos)`` (non-empty patterns only), without a match object each."""
    end = len(buf) if endpos is None else endpos
    while pos < end:
        span = search_span(rx, buf, pos, end)
        if span is None:
            return
        yield span
        pos = span[1] if span[1] > span[0] else span[0] + 1


_UNANCHORED: Any = None  # re2's search mode, looked up on first use (importing re2 is not paid at start-up)

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
