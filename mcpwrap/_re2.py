"""Linear-time regular expressions (RE2), for every pattern mcpwrap runs.

Nothing a client, a server or a policy file supplies may be able to hang the wrapper. Python's ``re``
backtracks (``(a+)+$`` on 30 characters takes seconds); RE2 runs in time linear in the input, rejects
constructs that cannot be matched that way (backreferences, look-around), and bounds the memory a compiled
pattern may take. It is also the syntax mcpgw's Go ``regexp`` uses, so mcpgw patterns mean the same here.

Uses:
- :func:`compile_regex` — patterns from outside (policy rules, a server's JSON Schema ``pattern``): RE2 only;
  a pattern RE2 refuses raises :class:`RegexError`.
- :func:`compile_bytes` — mcpwrap's own detector patterns, compiled for ``bytes``: detectors work on UTF-8, so
  offsets are byte offsets and the string → bytes step is a single ``encode`` (:func:`utf8`; RE2 would
  otherwise re-encode the text on every call).
- :class:`PatternSet` — which of many patterns occur in a text, in one linear pass (an ``RE2::Set`` through
  the library's public ``re2.Set``): the one set wrapper, for any batch of patterns (policy argument
  conditions, detector signals). :class:`SignalSet`, the injection detector's, confirms its candidates with
  exact searches.

RE2 is the only engine here. benchmarks/bench_content.py compares it with Python's backtracking ``re``
through :func:`mcpwrap.testing.use_backtracking_engine`, which replaces these functions before the detectors
are imported; the ``fallback`` spellings some detector patterns carry are for that comparison only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "compile_regex",
    "compile_bytes",
    "PatternSet",
    "SignalSet",
    "search_span",
    "finditer_spans",
    "utf8",
    "RegexError",
    "MAX_PATTERN_MEMORY",
    "DETECTOR_MEMORY",
]

MAX_PATTERN_MEMORY = 8 << 20  # bytes one outside pattern may use; a larger one is refused at load time
DETECTOR_MEMORY = 64 << 20  # mcpwrap's large detector alternations keep their DFA instead of falling back to NFA


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

    ``fallback`` is the pattern's spelling for Python's engine where it uses RE2-only syntax (``\\x{…}``
    Unicode classes); RE2 ignores it (see the module docstring).
    """
    import re2

    return re2.compile(pattern.encode("utf-8"), _options(re2, DETECTOR_MEMORY))


class PatternSet:
    """Which of several RE2 patterns occur in a text (``str`` or UTF-8 ``bytes``/``memoryview``), in one pass.

    An ``RE2::Set``: one automaton for all patterns, so the cost is one linear pass whatever their number.
    Unanchored, like ``search``. A pattern RE2 refuses, or a set too large for ``max_mem``, raises
    :class:`RegexError` when the set is built, never while matching. The set's DFA does not give up when a
    text makes it slow (RE2 only lets single-pattern searches fall back to the NFA), so an empty answer
    means no pattern occurs.
    """

    __slots__ = ("size", "_set")

    def __init__(self, patterns: Iterable[str | bytes], *, case_sensitive: bool = True, max_mem: int = DETECTOR_MEMORY) -> None:
        import re2

        self._set = re2.Set.SearchSet(_options(re2, max_mem, case_sensitive))
        self.size = 0
        for p in patterns:
            try:
                self._set.Add(p)
            except re2.error:
                shown = p if isinstance(p, str) else p.decode("utf-8", "replace")
                raise RegexError(f"pattern refused by RE2: {shown[:60]!r}") from None
            self.size += 1
        try:
            self._set.Compile()
        except re2.error:
            raise RegexError(f"{self.size} patterns do not fit in one RE2 set ({max_mem} bytes)") from None

    def match(self, text: str | bytes | memoryview) -> list[int]:
        """Indices (in the order the patterns were given) of every pattern that occurs in ``text``."""
        return self._set.Match(text) or []


class SignalSet:
    """Which of several named detector patterns occur in a stretch of bytes, in one pass.

    The :class:`PatternSet` runs over the stretch as a text of its own: that is a superset of what each
    pattern finds with ``search(buf, start, end)`` (``^`` and ``\\b`` may match at the edges of the stretch),
    so every pattern the set reports is confirmed with its own exact search, and a pattern it does not report
    cannot match.
    """

    def __init__(self, patterns: dict[str, str]) -> None:
        self.names = list(patterns)
        self.exact = {name: compile_bytes(p) for name, p in patterns.items()}
        self._set = PatternSet(p.encode("utf-8") for p in patterns.values())

    def search(self, buf: bytes, start: int = 0, end: int | None = None) -> set[str]:
        end = len(buf) if end is None else end
        candidates = [self.names[i] for i in self._set.match(memoryview(buf)[start:end])]
        return {name for name in candidates if self.exact[name].search(buf, start, end) is not None}


def search_span(rx: Any, buf: bytes, pos: int, endpos: int) -> tuple[int, int] | None:
    """``rx.search(buf, pos, endpos).span()`` (None when there is no match) for a detector pattern from
    :func:`compile_bytes`, with ``0 <= pos <= endpos <= len(buf)``.

    This calls the compiled program directly: the Python wrapper builds a generator and a match object per
    call (a few microseconds), which adds up over the thousands of candidates in a large text. (It is the one
    use of the library's internals here; the test suite checks it against ``rx.search``.)
    """
    global _UNANCHORED
    if _UNANCHORED is None:
        import re2

        _UNANCHORED = re2._Anchor.UNANCHORED
    span = rx._regexp.Match(_UNANCHORED, buf, pos, endpos)[0]
    return None if span[0] < 0 else span


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

# (text, its UTF-8): one tuple, replaced whole, so two pump threads never pair one's text with the other's bytes.
_last: tuple[Any, bytes] = (None, b"")


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 (lone surrogates kept), remembering the last one: the secrets and injection
    detectors scan the same string values one after the other, so a 10 MB result is encoded once."""
    global _last
    last_text, last_bytes = _last
    if text is last_text:
        return last_bytes
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (JSON allows "\ud800"): keep them rather than fail
        data = text.encode("utf-8", "surrogatepass")
    if len(text) > 4096:  # only worth remembering for large strings
        _last = (text, data)
    return data
