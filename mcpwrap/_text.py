"""Invisible characters: the one table of them, and the few ways mcpwrap treats them.

A character is *invisible* when it renders as nothing (or only changes how its neighbours are drawn) while a
model still reads it, and a filter comparing code points sees a different string: zero-width characters,
bidirectional embeddings/overrides/isolates, the Unicode *tag* block (U+E0000–E007F, an invisible copy of
ASCII that can carry a whole hidden text), variation selectors, fillers. :data:`INVISIBLE_RANGES` holds them:
every format character (Unicode category Cf — the test suite checks the table against the running Python's
Unicode database) plus the invisible characters outside Cf. Every part of mcpwrap that looks for them uses
this table, so the policy engine, the sanitiser, the injection detector and the poisoning scan never
disagree about which characters hide text.

Three ways to treat them:

- :func:`clean_text` — for comparisons (policy rules): NFKC, then *every* invisible character removed, so
  ``ｒｍ`` and ``r\\u200bm`` read as ``rm``. A comparison has no reader to show an emoji to.
- :func:`find_invisible` / :func:`strip_invisible` — for text a person or a model reads (sanitising results,
  detector counts, the poisoning rule): every invisible character except a joiner or variation selector
  that continues an emoji/symbol sequence (``❤️``, ``👩‍💻``), which is drawn, not hidden.
- :func:`visible` — for showing text to a person (review diffs, audit excerpts): what :func:`find_invisible`
  finds, and control characters, become ``\\uXXXX`` escapes.

Look-alikes: :data:`CONFUSABLES` is the one table of letters from other scripts that render like Latin ones
(the detectors fold them; :func:`skeleton` and :func:`confusable` decide when two names read the same).

Everything here is pure and imports nothing of mcpwrap; ASCII text takes an O(1) fast path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "INVISIBLE_RANGES",
    "VARIATION_SELECTOR_RANGES",
    "TAG_RANGE",
    "WORD_HIDING_RANGES",
    "BIDI_CONTROLS",
    "is_invisible",
    "char_class",
    "find_invisible",
    "strip_invisible",
    "clean_text",
    "visible",
    "CONFUSABLES",
    "fold_confusables",
    "skeleton",
    "confusable",
    "stands_in_for",
    "ambiguous_names",
]

# Code points that render as nothing (or reorder what is shown) but a model still reads. Sorted, disjoint.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),  # Arabic number signs (format characters: prepended concatenation marks)
    (0x061C, 0x061C),  # Arabic letter mark
    (0x06DD, 0x06DD),  # Arabic end of ayah (format)
    (0x070F, 0x070F),  # Syriac abbreviation mark (format)
    (0x0890, 0x0891),  # Arabic pound/piastre mark above (format)
    (0x08E2, 0x08E2),  # Arabic disputed end of ayah (format)
    (0x115F, 0x1160),  # Hangul fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space/non-joiner/joiner, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated format characters
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0x110BD, 0x110BD),  # Kaithi number sign (format)
    (0x110CD, 0x110CD),  # Kaithi number sign above (format)
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical formatting
    (0xE0000, 0xE007F),  # tags: an invisible copy of ASCII
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
# Variation selectors legitimately follow emoji and CJK ideographs (ideographic variation sequences); a
# detector that asks "does an invisible character split a word?" leaves them out.
VARIATION_SELECTOR_RANGES: tuple[tuple[int, int], ...] = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
TAG_RANGE = (0xE0000, 0xE007F)


def _without(ranges: tuple[tuple[int, int], ...], removed: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    drop = {cp for a, b in removed for cp in range(a, b + 1)}
    out: list[list[int]] = []
    for a, b in ranges:
        for cp in range(a, b + 1):
            if cp in drop:
                continue
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return tuple((a, b) for a, b in out)


# The invisible characters that have no business inside a word of any script (all but the variation selectors).
WORD_HIDING_RANGES = _without(INVISIBLE_RANGES, VARIATION_SELECTOR_RANGES)
BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}

_INVISIBLE = frozenset(cp for a, b in INVISIBLE_RANGES for cp in range(a, b + 1))
_EMOJI_JOINERS = frozenset({0x200D, 0xFE0E, 0xFE0F})  # zero-width joiner, text/emoji presentation selectors
_JOINER_CHARS = frozenset(map(chr, _EMOJI_JOINERS))
_EMOJI_FLOOR = 0x2190  # arrows, symbols, dingbats, emoji: a joiner after these belongs to a sequence


def is_invisible(ch: str) -> bool:
    """Whether the character ``ch`` is in :data:`INVISIBLE_RANGES`."""
    return ord(ch) in _INVISIBLE


def char_class(ranges: tuple[tuple[int, int], ...] = INVISIBLE_RANGES, *, syntax: str = "python") -> str:
    """A regex character class of ``ranges``: ``python`` for ``re`` over str, ``re2`` (``\\x{…}``) for RE2."""
    if syntax == "re2":
        return "[" + "".join(f"\\x{{{a:04X}}}-\\x{{{b:04X}}}" for a, b in ranges) + "]"
    return "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" if a != b else re.escape(chr(a)) for a, b in ranges) + "]"


_INVISIBLE_RE = re.compile(char_class())


def _continues_emoji(text: str, i: int) -> bool:
    """A joiner or presentation selector at ``i`` that is part of an emoji/symbol sequence: it follows a
    visible symbol (or a selector that itself follows one, as in ``👁️‍🗨️``), never another hidden character."""
    cp = ord(text[i])
    if cp not in _EMOJI_JOINERS or i == 0:
        return False
    prev = ord(text[i - 1])
    if prev in _EMOJI_JOINERS and cp == 0x200D and i > 1:  # symbol, selector, ZWJ
        return prev != 0x200D and ord(text[i - 2]) >= _EMOJI_FLOOR and ord(text[i - 2]) not in _INVISIBLE
    return prev >= _EMOJI_FLOOR and prev not in _INVISIBLE


def find_invisible(text: str) -> list[tuple[int, str]]:
    """``(index, character)`` of every invisible character a reader would not see (emoji sequences excepted)."""
    if text.isascii():
        return []
    return [
        (m.start(), ch)
        for m in _INVISIBLE_RE.finditer(text)
        if (ch := m.group()) not in _JOINER_CHARS or not _continues_emoji(text, m.start())
    ]


def strip_invisible(text: str) -> tuple[str, int]:
    """The text without the characters :func:`find_invisible` reports, and how many were removed."""
    found = find_invisible(text)
    if not found:
        return text, 0
    parts = []
    last = 0
    for i, _ in found:
        parts.append(text[last:i])
        last = i + 1
    parts.append(text[last:])
    return "".join(parts), len(found)


def clean_text(text: str) -> str:
    """NFKC with every invisible character removed, for comparing values. ASCII text is returned as is."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    if _INVISIBLE_RE.search(text) is not None:
        text = _INVISIBLE_RE.sub("", text)
        text = unicodedata.normalize("NFKC", text)  # removing a joiner can leave a composable pair
    return text


# Cyrillic and Greek letters that render like Latin ones (the subset used to dodge keyword filters).
CONFUSABLES: dict[str, str] = {
    # Cyrillic lower / upper
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "ɡ": "g", "ӏ": "l", "ү": "y", "ո": "n", "ս": "u",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ԁ": "d", "Ԛ": "q", "Ԝ": "w", "Ү": "y",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "γ": "y", "η": "n", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k",
    "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    # Latin look-alikes outside ASCII that NFKC keeps
    "ı": "i", "ȷ": "j", "ʏ": "y", "ɪ": "i", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴏ": "o", "ᴜ": "u",
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)


def fold_confusables(text: str) -> str:
    """``text`` with the Cyrillic/Greek/Latin-extension look-alikes of :data:`CONFUSABLES` as Latin letters."""
    if text.isascii():
        return text
    return text.translate(_CONFUSABLE_TABLE)


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def skeleton(text: str) -> str:
    """What a reader takes a short name for (tool names): NFKC, invisible and control characters removed, outer
    whitespace stripped, case folded, look-alikes folded to Latin, combining marks dropped. Two names with one
    skeleton cannot be told apart by a model or a person (nor by a server that stops at a NUL)."""
    if _CONTROLS.search(text):
        text = _CONTROLS.sub("", text)
    if text.isascii():
        return text.strip().casefold()
    folded = fold_confusables(clean_text(text).strip()).casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return fold_confusables("".join(c for c in decomposed if not unicodedata.combining(c)))


def stands_in_for(a: str, b: str) -> bool:
    """Whether skeleton ``a`` reads as skeleton ``b`` through look-alikes no table lists: the same length, every
    character equal or a non-ASCII one where the other has a visible ASCII character, and at least half of them
    equal (two names in another script entirely, ``検索`` and ``go``, are different names, not look-alikes)."""
    if len(a) != len(b) or a == b:
        return a == b
    same = 0
    for x, y in zip(a, b, strict=True):
        if x == y:
            same += 1
        elif not ((not x.isascii() and y.isascii() and y.isprintable() and not y.isspace())
                  or (not y.isascii() and x.isascii() and x.isprintable() and not x.isspace())):
            return False
    return 2 * same >= len(a)


def confusable(a: str, b: str) -> bool:
    """Whether two names read the same (see :func:`skeleton` and :func:`stands_in_for`)."""
    sa, sb = skeleton(a), skeleton(b)
    return sa == sb or (not (sa.isascii() and sb.isascii()) and stands_in_for(sa, sb))


def ambiguous_names(names: Iterable[str]) -> set[str]:
    """Every name of ``names`` that occurs twice or reads the same as another (:func:`confusable`)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(skeleton(name), []).append(name)
    out = {n for members in groups.values() if len(members) > 1 for n in members}
    odd = [s for s in groups if not s.isascii()]
    if odd:  # look-alikes no table lists: compared with the skeletons of the same length only
        by_length: dict[int, list[str]] = {}
        for s in groups:
            by_length.setdefault(len(s), []).append(s)
        for s in odd:
            for other in by_length[len(s)]:
                if other != s and stands_in_for(s, other):
                    out.update(groups[s])
                    out.update(groups[other])
    return out


# C0 controls except tab/newline/carriage return, DEL, C1 controls (ESC starts ANSI sequences).
_CONTROL = frozenset([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])


def visible(text: str) -> str:
    """``text`` for a person to read: invisible (as :func:`find_invisible` finds them) and control characters
    as ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes; tab, newline and carriage return as spaces."""
    hidden = {i for i, _ in find_invisible(text)}
    out = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        if i in hidden or cp in _CONTROL:
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
        elif ch in "\n\r\t":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)
