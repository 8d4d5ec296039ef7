"""The one table of invisible characters, and every part of mcpwrap that uses it seeing the same set."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap import _text
from mcpwrap._policy.normalize import clean_text as policy_reading
from mcpwrap._text import INVISIBLE_RANGES, clean_text, find_invisible, is_invisible, strip_invisible, visible
from mcpwrap.detect import injection, poison
from mcpwrap.detect import normalize as nz

TABLE = [cp for a, b in INVISIBLE_RANGES for cp in range(a, b + 1)]
NEIGHBOURS = sorted({cp + d for a, b in INVISIBLE_RANGES for cp in (a, b) for d in (-1, 1)} - set(TABLE))


def test_the_table_is_sorted_and_disjoint():
    assert all(a <= b for a, b in INVISIBLE_RANGES)
    assert all(prev[1] < nxt[0] for prev, nxt in zip(INVISIBLE_RANGES, INVISIBLE_RANGES[1:], strict=False))


def test_every_format_character_is_in_the_table():
    """Category Cf per the running Python's Unicode database: a newer Unicode adds to it, and this says so."""
    missing = [f"U+{cp:04X}" for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf" and not is_invisible(chr(cp))]
    assert not missing, f"format characters missing from mcpwrap._text.INVISIBLE_RANGES: {missing}"


def test_nothing_folds_into_an_invisible_character():
    """NFKC of a visible character never contains an invisible one (else the policy's reading would remove
    what the detectors keep)."""
    folding = [
        f"U+{cp:04X}" for cp in range(sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF and not is_invisible(chr(cp))
        and any(is_invisible(c) for c in unicodedata.normalize("NFKC", chr(cp)))
    ]  # fmt: skip
    assert not folding


def seen_as_invisible(ch: str) -> dict[str, bool]:
    """Whether each user of the table treats ``ch`` as invisible, between two letters."""
    text = f"ab{ch}cd"
    findings = poison.scan_text(text, "$")
    return {
        "policy reading": policy_reading(text) == "abcd",
        "detector normalisation": nz.normalize(text).invisible == 1 and nz.normalize(text).text == "abcd",
        "sanitiser": nz.sanitize(text) == ("abcd", {"invisible_characters": 1}),
        "poisoning scan": any(f.rule == "invisible-characters" for f in findings),
        "injection pre-check": injection._SUSPICIOUS_CHAR.search(ch) is not None,
        "injection byte class": injection._SUSPICIOUS.search(ch.encode("utf-8", "surrogatepass")) is not None,
        "hidden inside a word": injection._invisible_inside_words(text) if ord(ch) not in _VARIATION_SELECTORS else True,
        "shown escaped": f"\\u{ord(ch):04x}" in visible(text) or f"\\U{ord(ch):08x}" in visible(text),
    }


_VARIATION_SELECTORS = {cp for a, b in _text.VARIATION_SELECTOR_RANGES for cp in range(a, b + 1)}
_LOOKALIKES = {cp for a, b in injection._LOOKALIKE_RANGES for cp in range(a, b + 1)}


def check_agreement(cp: int) -> None:
    ch = chr(cp)
    views = seen_as_invisible(ch)
    if is_invisible(ch):
        assert all(views.values()), (f"U+{cp:04X}", views)
    else:
        if cp in _LOOKALIKES:  # the injection pre-check also looks at look-alike letters, on purpose
            views.pop("injection pre-check")
            views.pop("injection byte class")
        views.pop("hidden inside a word")  # only asked of invisible characters
        if unicodedata.category(ch) in ("Cc",):
            views.pop("shown escaped")  # control characters are escaped too (they are not invisible, but shown)
        assert not any(views.values()), (f"U+{cp:04X}", views)


@pytest.mark.parametrize("cp", TABLE + NEIGHBOURS, ids=lambda cp: f"U+{cp:04X}")
def test_every_user_sees_the_same_set_on_the_table_and_its_edges(cp):
    check_agreement(cp)


@settings(max_examples=400, deadline=None)
@given(st.characters(blacklist_categories=("Cs",)))
def test_every_user_sees_the_same_set_anywhere(ch):
    check_agreement(ord(ch))


@pytest.mark.parametrize(
    "text",
    ["\u2764\ufe0f", "\U0001F469\u200d\U0001F4BB", "\U0001F441\ufe0f\u200d\U0001F5E8\ufe0f", "\u263a\ufe0e"],
    ids=["heart", "technologist", "eye-in-bubble", "text-style"],
)
def test_emoji_sequences_are_drawn_not_hidden(text):
    assert find_invisible(text) == [] and strip_invisible(text) == (text, 0) and visible(text) == text
    assert nz.sanitize(text) == (text, {})
    assert not any(f.rule == "invisible-characters" for f in poison.scan_text(f"Save {text} notes", "$"))
    assert not any(is_invisible(c) for c in clean_text(text))  # comparisons ignore them all the same


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("a\ufe0fb", [1]),  # a selector after a letter
        ("\u2764\ufe0f\ufe0f\ufe0f", [2, 3]),  # a run of selectors after one emoji: only the first is drawn
        ("\u2764\u200d\u200d", [2]),  # a joiner after a joiner
        ("\ufeff\u200dx", [0, 1]),  # a joiner after another invisible character
        ("\U000e0041\ufe0f", [0, 1]),  # after a tag character
        ("\u2764\U000e0100\U000e0101", [1, 2]),  # variation selectors supplement smuggling bytes after an emoji
    ],
)
def test_a_joiner_is_drawn_only_right_after_a_visible_symbol(text, hidden):
    assert [i for i, _ in find_invisible(text)] == hidden


def test_clean_text_is_nfkc_without_invisibles():
    assert clean_text("ｒ\u200bｍ") == "rm"
    assert clean_text("s\u00adudo") == "sudo"
    assert clean_text("e\u200b\u0301") == "\u00e9"  # a joiner removed between a letter and its accent composes them
    assert clean_text("plain") == "plain"


def test_visible_escapes_hidden_and_control_characters():
    assert visible("a\u200bb\x1b[31m\n") == "a\\u200bb\\u001b[31m "
    assert visible("\U000e0041") == "\\U000e0041"


# --- names a reader cannot tell apart (issue 16, item 1) -------------------------------------------------------

from mcpwrap._text import ambiguous_names, confusable, skeleton  # noqa: E402


@pytest.mark.parametrize(
    "a, b",
    [
        ("read_file", "READ_FILE"),
        ("read_file", " read_file\t"),
        ("read_file", "read\u200b_file"),
        ("read_file", "read_file\x00"),
        ("read_file", "\uff52ead_file"),  # full width
        ("read_file", "r\u0435ad_file"),  # Cyrillic e (in the table)
        ("read_file", "re\u0251d_file"),  # Latin alpha (no table lists it: a stand-in)
        ("read-file", "read\u2010file"),  # a Unicode hyphen for an ASCII one
        ("read_file", "re\u0301ad_file"),  # a combining mark
    ],
)
def test_names_that_read_the_same_are_confusable(a, b):
    assert confusable(a, b) and ambiguous_names([a, b]) == {a, b}


@pytest.mark.parametrize("a, b", [("read_file", "read_files"), ("検索", "翻訳"), ("検索", "go"), ("read_file", "write_file"), ("a.b", "a_b")])
def test_different_names_are_not(a, b):
    assert not confusable(a, b) and ambiguous_names([a, b]) == set()


def test_a_repeated_name_is_ambiguous_and_skeletons_are_stable():
    assert ambiguous_names(["x", "y", "x"]) == {"x"}
    assert skeleton("Read_File ") == skeleton("read_file") == "read_file"
