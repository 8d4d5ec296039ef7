"""Readings of argument values: the plain-string path gives exactly what every reader gives."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mcpwrap._policy.readings import _other_readings, _str_readings, deny_readings

# Plain characters and every character some reader interprets (paths, hosts, URLs, Unicode forms, escapes).
_ALPHABET = "abcxyzXABC019 ,;!?'\"()_-+*#&=" + "./\\~:@%[]\t\n" + "\uff10\uff45\u200b\u3002"


def _full(s: str) -> list:
    out = [s]
    _other_readings(s, out)
    return out


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=24))
@example("0x7f000001")
@example("2130706433")
@example("017700000001")
@example("127 0 0 1")
@example("http")
@example("localhost")
def test_the_plain_path_gives_every_reading(value):
    out: list = []
    _str_readings(value, out)
    assert out == _full(value)


@pytest.mark.parametrize(
    ("value", "reading"),
    [("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("/etc/./passwd", "/etc/passwd")],
)
def test_values_that_look_plain_but_are_read_otherwise_keep_their_readings(value, reading):
    out: list = []
    deny_readings(value, out)
    assert reading in out


# Words some reader might interpret as a whole (hosts.py resolves metadata aliases, wildcard-DNS names,
# integer and hex addresses): if a reader ever reads one of them in a plain value, the fast path must not
# skip it — this fails first.
_WORDS = ["metadata", "instance-data", "localhost", "a9fea9fe", "0x7f000001", "2130706433", "169", "254", "nip", "io", "x", "-", "ssh"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=5).map(" ".join) | st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4).map("-".join))
@example("metadata")
@example("instance-data")
def test_the_plain_path_gives_every_reading_of_words_readers_know(value):
    out: list = []
    _str_readings(value, out)
    assert out == _full(value)
