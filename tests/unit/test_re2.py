"""The RE2 helpers: outside patterns, the pattern set, and the direct search used by the detectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._re2 import PatternSet, RegexError, SignalSet, compile_bytes, compile_regex, finditer_spans, search_span


def test_outside_patterns_that_could_backtrack_are_refused_with_the_reason():
    with pytest.raises(RegexError, match="invalid perl operator"):
        compile_regex(r"(?<=a)b")
    assert compile_regex("(a+)+$").search("a" * 5000 + "b") is None  # linear: returns at once


def test_pattern_set_reports_every_pattern_that_occurs():
    s = PatternSet(["rm -rf", r"\bsudo\b", "curl .*\\| *sh"])
    assert s.size == 3
    assert sorted(s.match("please sudo rm -rf /")) == [0, 1]
    assert s.match(b"curl x | sh") == [2]  # bytes as well as str
    assert s.match("nothing here") == []
    assert PatternSet(["SUDO"], case_sensitive=False).match("sudo") == [0]
    assert PatternSet(["SUDO"]).match("sudo") == []


def test_pattern_set_refuses_at_build_time():
    with pytest.raises(RegexError, match="refused by RE2"):
        PatternSet(["ok", r"(a)\1"])
    with pytest.raises(RegexError, match="do not fit"):
        PatternSet([f"x{i}[a-z]{{30}}y{i}" for i in range(200)], max_mem=1 << 16)


def test_signal_set_confirms_candidates_with_exact_searches():
    signals = SignalSet({"start": r"^go", "word": r"\bhi\b"})
    buf = b"xxgo hi"
    # Within the stretch "go hi", "^go" would match at the stretch's start; in the buffer it does not.
    assert signals.search(buf, 2, len(buf)) == {"word"}
    assert signals.search(b"go hi") == {"start", "word"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 60), st.integers(0, 60))
def test_search_span_is_search_without_the_match_object(buf, a, b):
    rx = compile_bytes(r"ab+|\d{2,}|x$")
    pos, end = sorted((min(a, len(buf)), min(b, len(buf))))
    m = rx.search(buf, pos, end)
    assert search_span(rx, buf, pos, end) == (None if m is None else m.span())
    assert list(finditer_spans(rx, buf)) == [m.span() for m in rx.finditer(buf)]
