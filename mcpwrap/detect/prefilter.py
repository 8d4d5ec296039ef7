"""One shared pass over a large string that tells the secrets and injection detectors where to look.

The secrets detector's candidate pattern (:data:`mcpwrap.detect.secrets.CANDIDATE_PATTERN`) and the injection
detector's anchor words (:data:`mcpwrap.detect.injection.ANCHOR_PATTERN`) — each registered here by its
detector module when it is imported, so this module depends on neither — are joined into a single RE2 alternation
and run once over the UTF-8 bytes of a string; both interceptors read the same result (the last string's
windows are remembered, as :func:`mcpwrap._re2.utf8` remembers its bytes), so a 10 MB result is scanned by
one DFA instead of two. Each detector then runs its own exact pattern only inside the windows.

Why the windows lose nothing: a leftmost-first alternation reports, of all matches of all its branches, the
leftmost one, and resumes after it. A match of either pattern that the shared pass did not report therefore
*starts inside* a reported span (it was hidden by an overlapping match of the other branch, or by an earlier
candidate of its own branch that the detector later rejects). So the windows are the reported spans
themselves (merged when close), and a detector searches from a window's start and accepts matches that
*start* before its end while letting them run past it (by :data:`OVERHANG` bytes, more than any candidate's
shortest form needs: the exact confirmation then re-reads the full text).
"""

from __future__ import annotations

from typing import Any

from .._re2 import compile_bytes, finditer_spans

__all__ = ["register", "windows", "OVERHANG", "MIN_SHARED_BYTES"]

OVERHANG = 1024  # bytes a candidate found in a window may extend past it (searches stop there)
MERGE_GAP = 256  # reported spans closer than this are searched as one window (fewer calls, same result)
MIN_SHARED_BYTES = 64 * 1024  # below this each detector's own pass is as cheap as the shared one

_PATTERNS: dict[str, str] = {}  # detector name → its candidate pattern (RE2 syntax, for bytes)
_UNION: Any = None
_last_buf: Any = None
_last_windows: list[tuple[int, int]] = []


def register(name: str, pattern: str) -> None:
    """Add a detector's candidate pattern to the shared pass (called once, when the detector is imported)."""
    global _UNION, _last_buf
    if _PATTERNS.get(name) != pattern:
        _PATTERNS[name] = pattern
        _UNION = _last_buf = None  # windows computed without this detector would miss its candidates


def _union() -> Any:
    global _UNION
    if _UNION is None:
        _UNION = compile_bytes("|".join(f"(?:{p})" for _, p in sorted(_PATTERNS.items())))
    return _UNION


def windows(buf: bytes) -> list[tuple[int, int]]:
    """Merged ``(start, end)`` spans of ``buf`` that hold every secrets candidate start and injection anchor
    start (see the module docstring); computed once per buffer."""
    global _last_buf, _last_windows
    if buf is _last_buf:
        return _last_windows
    out: list[tuple[int, int]] = []
    cs = ce = -1
    for s, e in finditer_spans(_union(), buf):
        if cs >= 0 and s - ce <= MERGE_GAP:
            ce = max(ce, e)
            continue
        if cs >= 0:
            out.append((cs, ce))
        cs, ce = s, max(e, s + 1)
    if cs >= 0:
        out.append((cs, ce))
    _last_buf, _last_windows = buf, out
    return out
