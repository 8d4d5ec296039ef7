"""Text normalisation for detectors, and sanitisation of text going to the client.

Two jobs, one module:

**Sanitisation** (what the client receives): :func:`sanitize` removes ANSI escape sequences (they can hide or
rewrite what a person sees in a terminal) and invisible characters — zero-width characters, bidirectional
overrides/isolates, the Unicode *tag* block (U+E0000–E007F, which can carry a whole hidden ASCII text) and
other default-ignorable code points (the one table of them is :data:`mcpwrap._text.INVISIBLE_RANGES`). A
zero-width joiner or variation selector that continues a symbol/emoji sequence is kept: it is drawn, not a
hiding place.

**Normalisation** (what detectors match): :func:`normalize` returns the text as a reader would understand it —
NFKC (full-width and styled letters become plain ones), invisible characters removed, Cyrillic/Greek
look-alikes folded to Latin, case folded — plus the facts that were removed on the way (how many invisible
characters, the text hidden in tag characters, whether words mix scripts), because hiding is itself a signal.
:func:`decode_runs` finds base64, hex and percent-encoded runs that decode to text, and :func:`strip_markup`
removes HTML tags and returns what HTML comments and hidden elements contained.

Fast paths: ASCII text (``str.isascii()`` is O(1) for CPython's compact strings) cannot contain invisible
characters, look-alikes or anything NFKC changes, so it skips straight to the ANSI check, which is a single
``"\\x1b" in text``.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from .. import _text
from .._re2 import utf8
from .._text import BIDI_CONTROLS, CONFUSABLES, INVISIBLE_RANGES, char_class, fold_confusables

__all__ = [
    "INVISIBLE_RANGES",
    "find_invisible",
    "has_invisible",
    "non_ascii_chars",
    "strip_invisible",
    "find_ansi",
    "strip_ansi",
    "sanitize",
    "fold_confusables",
    "tag_text",
    "mixed_script_words",
    "Normalized",
    "normalize",
    "Decoded",
    "decode_runs",
    "strip_markup",
]

# The shared table (mcpwrap._text), as a class for Python's engine over a text's few distinct non-ASCII
# characters (see non_ascii_chars).
_INVISIBLE_RE = re.compile(char_class())


_ASCII_BYTES = bytes(range(128))
_last_text: object = None
_last_distinct = ""


def non_ascii_chars(text: str) -> str:
    """The distinct non-ASCII characters of ``text`` (any order), remembered for the last large text.

    Deleting the ASCII bytes of the UTF-8 encoding is one C-speed pass (~2.5 GB/s) and leaves the non-ASCII
    characters, usually a handful: whether a text can contain an invisible character or a look-alike is
    then a question about that short string, not a regex pass over megabytes.
    """
    global _last_text, _last_distinct
    if text.isascii():
        return ""
    if text is _last_text:
        return _last_distinct
    rest = utf8(text).translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    distinct = "".join(set(rest))
    if len(text) > 4096:
        _last_text, _last_distinct = text, distinct
    return distinct


def has_invisible(text: str) -> bool:
    """Cheap pre-check: whether ``text`` contains an invisible character."""
    return not text.isascii() and _INVISIBLE_RE.search(non_ascii_chars(text)) is not None


# ECMA-48: CSI … final byte, OSC … BEL/ST, DCS/SOS/PM/APC … ST, two-byte escapes; and the 8-bit CSI.
_ANSI_RE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)


def find_invisible(text: str) -> list[tuple[int, str]]:
    """``(index, character)`` of every invisible character a reader would not see (emoji sequences excepted;
    see :func:`mcpwrap._text.find_invisible`), after the cheap check that there can be any."""
    return _text.find_invisible(text) if has_invisible(text) else []


def strip_invisible(text: str) -> tuple[str, int]:
    """The text without invisible characters, and how many were removed."""
    return _text.strip_invisible(text) if has_invisible(text) else (text, 0)


def find_ansi(text: str) -> list[tuple[int, int]]:
    """Spans of ANSI escape sequences (and stray ESC / 8-bit CSI characters)."""
    if "\x1b" not in text and (text.isascii() or "\x9b" not in text):
        return []
    return [m.span() for m in _ANSI_RE.finditer(text)]


def strip_ansi(text: str) -> tuple[str, int]:
    if "\x1b" not in text and (text.isascii() or "\x9b" not in text):
        return text, 0
    new, n = _ANSI_RE.subn("", text)
    return new, n


def sanitize(text: str) -> tuple[str, dict[str, int]]:
    """Text safe to show: ANSI escapes and invisible characters removed; counts of what was removed."""
    counts: dict[str, int] = {}
    text, n = strip_ansi(text)
    if n:
        counts["ansi_escapes"] = n
    text, n = strip_invisible(text)
    if n:
        counts["invisible_characters"] = n
    return text, counts


# --- confusables ------------------------------------------------------------------------------------------------

# The look-alike table is shared with the name checks (tool names, method names): mcpwrap._text.CONFUSABLES.
_LOOKALIKE_CLASS = "".join(sorted(set(CONFUSABLES)))
_MIXED_WORD_RE = re.compile(f"[A-Za-z][{_LOOKALIKE_CLASS}]|[{_LOOKALIKE_CLASS}][A-Za-z]")


def mixed_script_words(text: str) -> int:
    """How many places a Latin letter touches a Cyrillic/Greek look-alike inside one word."""
    if text.isascii():
        return 0
    return sum(1 for _ in _MIXED_WORD_RE.finditer(text))


def tag_text(text: str) -> str:
    """The ASCII text hidden in Unicode tag characters (U+E0020–E007E), if any."""
    if text.isascii():
        return ""
    return "".join(chr(ord(c) - 0xE0000) for c in text if 0xE0020 <= ord(c) <= 0xE007E)


@dataclass(slots=True)
class Normalized:
    """A text as a reader understands it, and what was removed to get there."""

    text: str  # NFKC, invisibles removed, look-alikes folded, case folded
    invisible: int = 0
    bidi: int = 0
    tags: str = ""  # ASCII hidden in tag characters
    mixed_script: int = 0
    changed_by_nfkc: bool = False


def normalize(text: str) -> Normalized:
    if text.isascii():
        return Normalized(text.lower())
    found = find_invisible(text)
    tags = tag_text(text) if found else ""
    bidi = sum(1 for _, c in found if ord(c) in BIDI_CONTROLS)
    stripped, _ = _text.strip_invisible(text)
    nfkc_changed = not unicodedata.is_normalized("NFKC", stripped)
    if nfkc_changed:
        stripped = unicodedata.normalize("NFKC", stripped)
    mixed = mixed_script_words(stripped)
    folded = fold_confusables(stripped).casefold()
    return Normalized(folded, invisible=len(found), bidi=bidi, tags=tags, mixed_script=mixed, changed_by_nfkc=nfkc_changed)


# --- encoded runs -----------------------------------------------------------------------------------------------

MIN_BASE64_RUN = 24  # shorter runs are identifiers and hashes far more often than hidden text
MAX_DECODED_RUNS = 32  # per text: bounds the work a hostile result can cause
MAX_RUN_CHARS = 64 * 1024

_RUNS_RE = re.compile(
    r"(?P<b64>[A-Za-z0-9+/_\-]{" + str(MIN_BASE64_RUN) + r",}={0,2})|(?P<hex>(?:[0-9A-Fa-f]{2}){16,})"
    r"|(?P<pct>(?:%[0-9A-Fa-f]{2}[^%\s]{0,2}){6,})"
)


_HEX_ONLY = re.compile(r"[0-9A-Fa-f]+")


@dataclass(slots=True)
class Decoded:
    kind: str  # "base64" | "hex" | "percent"
    start: int
    end: int
    text: str = field(repr=False)


def _texty(data: bytes) -> str | None:
    """Decoded bytes that read as natural-language text (UTF-8, printable, has spaces), else None."""
    if len(data) < 12:
        return None
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for c in s if c.isprintable() or c in "\n\t")
    if printable < 0.9 * len(s) or " " not in s:
        return None
    letters = sum(1 for c in s if c.isalpha())
    return s if letters >= 0.5 * len(s.replace(" ", "")) else None


def decode_runs(text: str, spans: list[tuple[str, int, int]] | None = None) -> list[Decoded]:
    """Base64/hex/percent runs of ``text`` that decode to readable text (at most ``MAX_DECODED_RUNS``)."""
    out: list[Decoded] = []
    candidates = spans if spans is not None else [(m.lastgroup or "", m.start(), m.end()) for m in _RUNS_RE.finditer(text)]
    for kind, start, end in candidates:
        if len(out) >= MAX_DECODED_RUNS:
            break
        run = text[start:end][:MAX_RUN_CHARS]
        data: bytes | None = None
        if kind == "b64" and len(run) % 2 == 0 and _HEX_ONLY.fullmatch(run):
            kind = "hex"  # hex digits are base64 characters too: an even run of them is hex
        try:
            if kind == "b64":
                if run.isdigit() or run.isalpha():
                    continue
                s = run.rstrip("=")
                s += "=" * (-len(s) % 4)
                data = base64.urlsafe_b64decode(s) if ("-" in s or "_" in s) else base64.b64decode(s)
                kind = "base64"
            elif kind == "hex":
                data = binascii.unhexlify(run)
            elif kind == "pct":
                data = unquote_to_bytes(run)
                kind = "percent"
        except (binascii.Error, ValueError):
            continue
        decoded = _texty(data) if data is not None else None
        if decoded is not None:
            out.append(Decoded(kind, start, end, decoded))
    return out


# --- markup -----------------------------------------------------------------------------------------------------

MAX_MARKUP_CHARS = 2 * 1024 * 1024  # larger texts are matched without the markup-stripped second view

_COMMENT_RE = re.compile(r"<!--(.*?)(?:-->|\Z)", re.S)
_MD_COMMENT_RE = re.compile(r"^\[[^\]\n]*\]:\s*#\s*[(\"'](.*)[)\"']\s*$", re.M)
# Hidden elements are found by a scanner, not one backtracking pattern: ``<tag …hidden…>(.*?)</tag>`` tried at
# every unclosed ``<a hidden>`` of a 120 KB page re-reads the rest of the page each time (quadratic: 18 s). An
# opening tag is matched by RE2 (linear); the closing tag is looked up once per tag name and position (a name
# with no closing tag after some offset has none after any later offset either).
# [^<>]: an attribute run stops at the next "<" too, so every byte is read at most twice by Python's engine
# (linear; RE2's Python binding costs ~6 µs a match, too much for a page of 100 000 tags).
_OPEN_TAG_PATTERN = rb"<([A-Za-z][A-Za-z0-9]*)\b([^<>]*)>"
_HIDDEN_ATTR_PATTERN = rb"(?i)display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|hidden\b|color\s*:\s*(?:#fff(?:fff)?|white)"
MAX_HIDDEN_ELEMENTS = 512  # hidden elements reported per text
MAX_HIDDEN_CHARS = 8192  # text kept of one hidden element
MAX_TAG_NAMES = 64  # distinct names of hidden elements looked up per text (HTML has a few dozen in use)
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,512}>")


def _comments(text: str) -> list[tuple[int, int, int]]:
    """``(start, content end, end)`` of each HTML comment, as ``_COMMENT_RE.finditer`` finds them (a comment
    left open runs to the end of the text), with substring searches instead of a regex tried at every position."""
    out = []
    i = text.find("<!--")
    while i >= 0:
        j = text.find("-->", i + 4)
        if j < 0:
            out.append((i, len(text), len(text)))
            break
        out.append((i, j, j + 3))
        i = text.find("<!--", j + 3)
    return out


_OPEN_TAG_RE = re.compile(_OPEN_TAG_PATTERN)
_HIDDEN_ATTR_RE = re.compile(_HIDDEN_ATTR_PATTERN)


def _hidden_elements(text: str) -> list[str]:
    """Contents of elements whose opening tag hides them (``hidden``, ``display:none``, white text…), as
    ``<tag …>(.*?)</tag>`` (case-insensitive) finds them — in linear time (see :data:`_OPEN_TAG_PATTERN`).
    Works on the UTF-8 bytes (``bytes.lower`` keeps offsets)."""
    open_re, hidden_re = _OPEN_TAG_RE, _HIDDEN_ATTR_RE
    buf = utf8(text)
    lower = buf.lower()  # ASCII letters only: same length, same offsets
    closes: dict[bytes, tuple[int, int]] = {}  # tag name -> (searched from, offset of "</name…>" found, or -1)
    out: list[str] = []
    for m in open_re.finditer(buf):
        if hidden_re.search(m.group(2)) is None:
            continue
        name = m.group(1).lower()
        start = m.end()
        known = closes.get(name)
        if known is not None and known[0] <= start and (known[1] < 0 or known[1] >= start):
            close = known[1]
        elif known is None and len(closes) >= MAX_TAG_NAMES:
            continue  # a page of thousands of made-up tag names: each would cost a search of the rest of it
        else:
            close = _find_close(lower, name, start)
            closes[name] = (start, close)
        if close < 0:
            continue  # never closed: nothing is hidden by it (its text is read in place anyway)
        out.append(buf[start : min(close, start + MAX_HIDDEN_CHARS)].decode("utf-8", "replace"))
        if len(out) >= MAX_HIDDEN_ELEMENTS:
            break
    return out


def _find_close(lower: bytes, name: bytes, start: int) -> int:
    """Offset of the first ``</name`` + optional spaces + ``>`` at or after ``start`` (-1: none)."""
    needle = b"</" + name
    pos = start
    n = len(lower)
    while True:
        i = lower.find(needle, pos)
        if i < 0:
            return -1
        j = i + len(needle)
        while j < n and lower[j] in b" \t\r\n\f\v":
            j += 1
        if j < n and lower[j] == 0x3E:
            return i
        pos = j


def strip_markup(text: str) -> tuple[str, list[str]]:
    """Text without HTML tags (entities unescaped), and the contents of comments and hidden elements."""
    # Python's engine tries these patterns at every position; a substring test (memchr speed) rules most
    # texts out first: a comment needs "<!--", a Markdown comment "]:".
    comments = _comments(text)
    hidden = [text[s + 4 : e] for s, e, _end in comments]
    if "]:" in text:
        hidden += [m.group(1) for m in _MD_COMMENT_RE.finditer(text)]
    if "<" in text:
        hidden += _hidden_elements(text)
    if comments:
        parts, last = [], 0
        for s, _e, end in comments:
            parts.append(text[last:s])
            parts.append(" ")
            last = end
        parts.append(text[last:])
        text = "".join(parts)
    stripped = _TAG_RE.sub("", text)
    if "&" in stripped:
        stripped = html.unescape(stripped)
    return stripped, [h for h in hidden if h.strip()]
