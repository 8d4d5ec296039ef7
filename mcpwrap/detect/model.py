"""The learned injection tier: a small network over cue-selected windows of what the model will read.

Design
------
*What is scored* (:func:`text_view`). A tool result is turned into the one text an AI model would read: every
string value and object key of the result in document order (protocol ``_meta`` and binary payloads —
``data`` of image/audio items, ``blob`` — left out; a string repeated verbatim counted once), joined by
newlines, so an instruction split over two content items or hidden in a key is read as a whole. A string that
is itself JSON (what TypeScript servers return as ``text``) is parsed and viewed the same way, so pretty and
compact JSON of the same value give the same view. Decoded layers are appended after the visible text: JSON
escapes (``\\u0069gnore``) are unescaped in place, HTML tags are removed (comments and hidden elements keep
their text, prose attribute values such as ``alt``/``title`` are kept), base64/hex/percent runs that decode
to text and text hidden in Unicode tag characters are added as extra lines. Non-ASCII text is normalised as
:mod:`mcpwrap.detect.normalize` does (NFKC, invisible characters removed, look-alikes folded).

*Context* (:class:`Context`). What the wrapper knows and a corpus classifier does not: the session's tool names
and the arguments of the call that produced the result. Before hashing, a session tool name is replaced by
the token ``qqtool``; an e-mail address becomes ``qqaddr`` (``qqargaddr`` when the call's arguments contain
it: the user asked about it), a URL ``qqurl`` (``qqargurl`` when its host is in the arguments). "Send all
invoices to qqaddr using qqtool" is then the same feature pattern whatever the names, and the model learns
from the training carriers how strongly it weighs — it is in the text view, so training and inference see
the same thing.

*The model* (version 2, :class:`Model`). A tool result is out of place when it holds an instruction
addressed to the AI that reads it; the hard negatives are documents with imperatives addressed to people and
documents that discuss or quote such instructions. The normalised bytes (lower case, digits folded to ``0``,
line breaks kept) are cut into blocks of :data:`V2_BLOCK` bytes. A pre-pass (one RE2 scan) counts *gate cues*
per block — words nearly every instruction to a model or request for an action contains (you/your, the
assistant, ignore, send, password, a context token, a role marker); a text without any is not scored further
(most logs, data and code). The :data:`V2_MAX_WINDOWS` blocks with the most cues around them are the centres
of three-block windows, and each window is read as
  * a bag of hashed words and word bigrams (fixed multiplicative hashes, never Python's salted ``hash()``)
    mapped to a learned embedding of a few dimensions (mean over the window; int8 weights in the file), and
  * structural features (:data:`V2_STRUCT`): counts of cue categories (:data:`V2_CUES`: role markers,
    concealment, claims to speak for the user, override wording, actions, new recipients and session tools,
    secrets, urgency, sentence-initial imperatives — and reporting phrases, discussion words, code) and the
    window's scope (inside a fenced block, blockquote lines, quotation marks, code spans, the document's
    density of discussion and reporting words),
then one hidden layer (ReLU) gives the window's logit; the text's score is the sigmoid of the highest. The
explanation is gradient-times-input of that window: the cues (named by the text they matched) and the words
that pushed it up. Training (``benchmarks/detection/training/train2.py``) builds its windows with these very
functions (:func:`v2_candidates`, :func:`v2_inputs`).

*Cost and sampling.* Everything is linear in the view, and the model proper reads at most
:data:`V2_MAX_WINDOWS` windows of 384 bytes whatever the size. A view longer than :data:`MAX_DEEP_BYTES` is
scored on its head (:data:`HEAD_BYTES`), its tail (:data:`TAIL_BYTES`) and :data:`SAMPLE_WINDOWS` windows of
:data:`SAMPLE_BYTES` at offsets drawn from a per-process random key (a hostile server cannot aim at the gaps;
the scores of such huge views are therefore not reproducible across processes — everything up to
:data:`MAX_DEEP_BYTES` is). The joined strings are cut the same way before they are normalised, so a 10 MB
result costs its linear passes (walking the JSON, joining, one translate) plus what 256 KB costs. JSON text
longer than :data:`MAX_JSON_PARSE_CHARS` inside a string is read with its punctuation blanked instead of being
parsed and walked value by value. The phrase detector (:mod:`mcpwrap.detect.injection`) still reads all of it.

*Version 1* (a hashed byte/word n-gram logistic model over every window) was replaced by this one; its
evaluation and why it was replaced are in ``benchmarks/detection/training/NOTES.md``.

*Weights* are package data (``models/injection-*.npz``), produced by
``benchmarks/detection/training/train2.py``; loading them needs no network. The file records its own
feature settings, threshold and the digest of the training data manifest.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import re
import secrets as _secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from . import normalize as nz

__all__ = [
    "Context",
    "ModelScore",
    "Model",
    "load",
    "score",
    "text_view",
    "feature_bytes",
    "DEFAULT_MODEL",
]

DEFAULT_MODEL = "injection-v2.npz"
MAX_DEEP_BYTES = 256 * 1024  # views up to this size are scored everywhere (~30-40 ns a byte)
HEAD_BYTES = 128 * 1024  # larger views: the head, the tail and sampled windows, MAX_DEEP_BYTES in all
TAIL_BYTES = 64 * 1024
SAMPLE_WINDOWS = 32
SAMPLE_BYTES = 2 * 1024
MAX_JSON_DEPTH = 64  # nested JSON-in-strings and containers deeper than this are read as plain text
MAX_JSON_PARSE_CHARS = 1 << 20  # JSON text longer than this is read with its punctuation blanked, not parsed
MAX_MARKUP_CHARS = 4 * 1024 * 1024  # longer strings keep their tags (stripping is linear, but costs a copy)
MAX_DECODED_RUNS = 32  # encoded runs decoded per string
MAX_ADDRESSES = 4096  # e-mail addresses / URLs tokenised per view; later ones are left as text
DEDUPE_MIN_CHARS = 64  # strings at least this long are counted once per view
TOP_FEATURES = 8

# --- text view ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """What the wrapper knows about the call a text answers.

    ``tools``: tool names of the session (this server's and, where known, other servers'); ``arguments``: the
    arguments of the call that produced the result (any JSON value). Both are optional; fill what is cheap.
    """

    tools: frozenset[str] = frozenset()
    arguments: Any = None

    @staticmethod
    def of(tools: Iterable[str] = (), arguments: Any = None) -> Context:
        return Context(frozenset(t for t in tools if isinstance(t, str)), arguments)


_BINARY_TYPES = frozenset({"image", "audio"})


def _strings(value: Any, out: list[str], seen: set[str], depth: int = 0, top: bool = True) -> None:
    """Append the strings a model reads in ``value`` (keys and values, document order) to ``out``."""
    if isinstance(value, str):
        _string(value, out, seen, depth)
        return
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if top and k == "_meta":
                continue  # protocol metadata: clients do not show it to the model
            if isinstance(k, str) and " " in k:
                _string(k, out, seen, depth)  # a key that is prose is read; identifiers carry nothing
            if isinstance(v, str):
                if k == "blob" or (k == "data" and value.get("type") in _BINARY_TYPES):
                    continue  # base64 of binary content, not text
                _string(v, out, seen, depth + 1)
            elif isinstance(v, (dict, list)):
                _strings(v, out, seen, depth + 1, top=False)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, str):
                _string(v, out, seen, depth + 1)
            elif isinstance(v, (dict, list)):
                _strings(v, out, seen, depth + 1, top=False)


def _string(s: str, out: list[str], seen: set[str], depth: int) -> None:
    if len(s) >= DEDUPE_MIN_CHARS:
        if s in seen:
            return
        seen.add(s)
    head = s[:1]
    if head.isspace():
        head = s.lstrip()[:1]
    if head in ("{", "[") and depth < MAX_JSON_DEPTH:
        if len(s) > MAX_JSON_PARSE_CHARS:
            # Too large to walk value by value within the cost bound: read the JSON text with its punctuation
            # blanked out, which pretty and compact spellings of one value share once whitespace is folded.
            out.append(s.translate(_JSON_PUNCTUATION))
            return
        parsed = _parse_json(s)
        if isinstance(parsed, (dict, list)):
            _strings(parsed, out, seen, depth + 1, top=False)
            return
    out.append(s)


_JSON_PUNCTUATION = str.maketrans({c: " " for c in '{}[]":,'})


def _parse_json(s: str) -> Any:
    try:
        import orjson

        return orjson.loads(s)
    except ImportError:  # pragma: no cover - orjson is a dependency; json is the same reading, slower
        pass
    except Exception:  # noqa: BLE001 - not JSON (orjson.JSONDecodeError), or JSON orjson refuses (e.g. > 64-bit ints)
        pass
    try:
        return json.loads(s)
    except (ValueError, RecursionError):
        return None


def _sample(s: str) -> str:
    """``s`` itself, or for a very long string its head, tail and randomly placed samples."""
    if len(s) <= MAX_DEEP_BYTES:
        return s
    parts = [s[:HEAD_BYTES]]
    lo, hi = HEAD_BYTES, len(s) - TAIL_BYTES - SAMPLE_BYTES
    if hi > lo:
        offsets = sorted(lo + _secrets.randbelow(hi - lo) for _ in range(SAMPLE_WINDOWS))
        parts += [s[o : o + SAMPLE_BYTES] for o in offsets]
    parts.append(s[-TAIL_BYTES:])
    return "\n".join(parts)


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\([nrt\"\\/])")
_ESCAPE_CHARS = {"n": "\n", "r": " ", "t": " ", '"': '"', "\\": "\\", "/": "/"}
_MARKUP_HINT = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9-]*[\s/>]|!--)")
_TAG = re.compile(r"<!--|-->|</?[a-zA-Z][^<>]{0,1024}>")
_PROSE_ATTR = rb"""(?i)\b(?:alt|title|aria-label|content|placeholder|summary|label)\s*=\s*["']([^"'<>]{12,})["']"""  # unbounded: RE2 expands counted repeats


@functools.lru_cache(maxsize=1)
def _prose_attr_re() -> Any:
    return _re2_or_re(_PROSE_ATTR)


def _unescape(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        c = chr(int(m.group(1), 16))
        return " " if 0xD800 <= ord(c) <= 0xDFFF else c
    return _ESCAPE_CHARS[m.group(2)]


def _layers(s: str) -> tuple[str, list[str]]:
    """The visible reading of one string and its decoded layers."""
    extra: list[str] = []
    if "\\" in s and ("\\u" in s or "\\n" in s):
        s = _ESCAPE.sub(_unescape, s)
    if "<" in s and len(s) <= MAX_MARKUP_CHARS and _MARKUP_HINT.search(s) is not None:
        extra.extend(m.group(1).decode("utf-8", "replace") for m in _prose_attr_re().finditer(s.encode("utf-8", "surrogatepass")))
        s = _TAG.sub(" ", s)
        if "&" in s:
            import html

            s = html.unescape(s)
    if not s.isascii():
        tags = nz.tag_text(s)
        if tags:
            extra.append(tags)
    if len(s) >= nz.MIN_BASE64_RUN:
        buf = s.encode("utf-8", "surrogatepass")
        spans = []
        for m in _runs_re().finditer(buf):
            kind = "b64" if m.lastindex == 1 else ("hex" if m.lastindex == 2 else "pct")
            spans.append((kind, m.start(), m.end()))
            if len(spans) >= MAX_RUN_CANDIDATES:
                break
        if spans:
            # Byte offsets index a latin-1 reading 1:1, and the runs themselves are ASCII.
            for dec in nz.decode_runs(buf.decode("latin-1"), spans)[:MAX_DECODED_RUNS]:
                extra.append(dec.text)
    return s, extra


MAX_RUN_CANDIDATES = 256  # encoded-run candidates looked at per view


@functools.lru_cache(maxsize=1)
def _runs_re() -> Any:
    # The candidates of normalize.decode_runs (same pattern), found by RE2: Python's engine tries the class at
    # every byte (~25 ms on 200 KB of prose).
    return _re2_or_re(rb"([A-Za-z0-9+/_\-]{24,}={0,2})|((?:[0-9A-Fa-f]{2}){16,})|((?:%[0-9A-Fa-f]{2}[^%\s]{0,2}){6,})")


def text_view(value: Any, context: Context | None = None) -> str:
    """The text a model reads in ``value`` — a tool result (or any JSON value) or a string — with decoded
    layers appended. ``context`` is not used here (it is applied by :func:`feature_bytes`); it is accepted so
    callers can pass one object around."""
    strings: list[str] = []
    _strings(value, strings, set(), 0, top=isinstance(value, dict))
    joined = _sample("\n".join(strings))
    visible, hidden = _layers(joined)
    return "\n".join([visible, *hidden]) if hidden else visible


# --- feature bytes ----------------------------------------------------------------------------------------------

_DIGITS_AND_SPACE = bytes(  # line breaks stay
    (ord("0") if chr(i).isdigit() else (ord(" ") if chr(i) in "\t\r\f\v" else i)) if i < 128 else i for i in range(256)
)
_ADDRESS = re.compile(
    # Unbounded repeats: RE2 is linear either way, and a counted repeat such as {1,512} is expanded into a
    # program 512 states long that runs ~100x slower.
    rb"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+|(?:https?|ftp)://[^\s\"'<>)\]]+|\bwww\.[a-z0-9-]+\.[^\s\"'<>)\]]+"
)
_HOST = re.compile(rb"(?:[a-z]+://)?([^/\s?#:]+)")


def _re2_or_re(pattern: bytes) -> Any:
    try:
        import re2

        options = re2.Options()
        options.log_errors = False
        return re2.compile(pattern, options)
    except Exception:  # noqa: BLE001 - RE2 missing or refusing: Python's engine (these patterns are bounded)
        return re.compile(pattern)


@functools.lru_cache(maxsize=1)
def _address_re() -> Any:
    return _re2_or_re(_ADDRESS.pattern)


@functools.lru_cache(maxsize=32)
def _tools_re(tools: frozenset[str]) -> Any:
    names: set[str] = set()
    for t in tools:
        low = t.lower()
        if len(low) >= 3:
            names.add(low)
            squashed = re.sub(r"[_\-.]", "", low)
            if squashed != low and len(squashed) >= 6:
                names.add(squashed)
    if not names:
        return None
    alternation = b"|".join(re.escape(n.encode("utf-8")) for n in sorted(names, key=len, reverse=True))
    return _re2_or_re(rb"(?:^|[^a-z0-9_])(" + alternation + rb")(?:$|[^a-z0-9_])")


def _argument_text(arguments: Any) -> bytes:
    if arguments is None:
        return b""
    parts: list[str] = []
    _strings(arguments, parts, set(), 0, top=False)
    return "\n".join(parts).lower().encode("utf-8", "surrogatepass")


def feature_bytes(view: str, context: Context | None = None) -> bytes:
    """The normalised UTF-8 bytes features are hashed from (see the module docstring); line breaks stay (the
    model reads line structure: blockquotes, fenced blocks, role lines)."""
    if view.isascii():
        text = view.lower()
    else:
        norm = nz.normalize(view)
        text = norm.text
    buf = text.encode("utf-8", "surrogatepass")
    if b"@" in buf or b"://" in buf or b"www." in buf:
        buf = _tokenise_addresses(buf, _argument_text(context.arguments) if context is not None else b"")
    if context is not None and context.tools:
        rx = _tools_re(context.tools)
        if rx is not None:
            buf = _replace_group(rx, buf, b"qqtool")
    buf = buf.translate(_DIGITS_AND_SPACE)
    if b"00" in buf or b"  " in buf:
        # Runs of zeros (a number is one token) and of spaces become one byte. A byte equal to the one before it
        # and a zero or a space is dropped: one numpy pass, where a regular-expression substitution cost
        # ~35 ns a byte on number-heavy text (logs). Collapsing one kind never makes the other adjacent.
        a = np.frombuffer(buf, dtype=np.uint8)
        tail = a[1:]
        dup = (tail == a[:-1]) & ((tail == 48) | (tail == 32))
        if dup.any():
            keep = np.ones(len(a), dtype=bool)
            keep[1:] = ~dup
            buf = a[keep].tobytes()
    return buf


def _tokenise_addresses(buf: bytes, args: bytes) -> bytes:
    out: list[bytes] = []
    last = 0
    for i, m in enumerate(_address_re().finditer(buf)):
        if i >= MAX_ADDRESSES:
            break
        s, e = m.span()
        found = m.group(0)
        if b"@" in found and b"://" not in found:
            token = b" qqargaddr " if args and found in args else b" qqaddr "
        else:
            host = _HOST.match(found)
            h = host.group(1) if host else b""
            token = b" qqargurl " if args and h and h in args else b" qqurl "
        out.append(buf[last:s])
        out.append(token)
        last = e
    if not out:
        return buf
    out.append(buf[last:])
    return b"".join(out)


def _replace_group(rx: Any, buf: bytes, token: bytes) -> bytes:
    out: list[bytes] = []
    last = 0
    pos = 0
    n = len(buf)
    count = 0
    while pos < n and count < MAX_ADDRESSES:
        m = rx.search(buf, pos)
        if m is None:
            break
        s, e = m.span(1)
        out.append(buf[last:s])
        out.append(token)
        last = pos = e
        count += 1
    if not out:
        return buf
    out.append(buf[last:])
    return b"".join(out)


# --- hashing ----------------------------------------------------------------------------------------------------

# Fixed odd multipliers (multiplicative hashing): the top bits of code * A index the table.
_MULT = {"w": 0x27D4EB2F, "b": 0x165667B1}
_WORD_BYTE = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyz0123456789":
    _WORD_BYTE[_c] = True
_WORD_BYTE[128:] = True
_Q = np.uint64(0x100000001B3)  # polynomial base for word hashes (odd: invertible mod 2**64)


@functools.lru_cache(maxsize=4)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Q**i and Q**-i (mod 2**64) for i < n, n a power of two."""
    q_inv = pow(int(_Q), -1, 1 << 64)
    with np.errstate(over="ignore"):
        p = np.full(n, _Q, dtype=np.uint64)
        p[0] = 1
        np.cumprod(p, out=p)
        ip = np.full(n, np.uint64(q_inv), dtype=np.uint64)
        ip[0] = 1
        np.cumprod(ip, out=ip)
    return p, ip


def _pow2_at_least(n: int) -> int:
    return 1 << max(12, (n - 1).bit_length())


@dataclass(slots=True)
class ModelScore:
    """The learned tier's verdict on one text.

    ``score``: probability-like value in [0, 1] of the highest-scoring window; ``window``: its byte span in the
    feature bytes; ``excerpt``: its text; ``strongest_features``: the n-grams that pushed it up most, with
    their contributions to the logit."""

    score: float
    threshold: float
    window: tuple[int, int] = (0, 0)
    excerpt: str = ""
    strongest_features: list[tuple[str, float]] = field(default_factory=list)
    sampled: bool = False  # the view was longer than MAX_DEEP_BYTES and was scored on samples

    @property
    def flagged(self) -> bool:
        return self.score >= self.threshold


def _sample_bytes(buf: bytes) -> bytes:
    parts = [buf[:HEAD_BYTES]]
    lo, hi = HEAD_BYTES, len(buf) - TAIL_BYTES - SAMPLE_BYTES
    if hi > lo:
        for o in sorted(lo + _secrets.randbelow(hi - lo) for _ in range(SAMPLE_WINDOWS)):
            parts.append(buf[o : o + SAMPLE_BYTES])
    parts.append(buf[-TAIL_BYTES:])
    return b" ".join(parts)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# --- version 2: cue-gated windows, hashed word embeddings and structural features, one hidden layer ----------------
#
# What version 1 could not do: tell a quoted instruction from a live one, and stay cheap. Version 2 scores only
# windows a cheap pre-pass finds cues in, and reads each with
#   * a bag of hashed words and word bigrams, mapped to a small learned embedding (mean over the window), and
#   * explicit structural features: cues of text addressed to the model (you/your, the assistant, role
#     markers, override and concealment wording, actions towards new recipients or session tools, secrets,
#     urgency, claims to speak for the user) and cues of quoted text (inside a fenced block, a blockquote,
#     quotation marks or code spans, after reporting phrases, in a document dense with discussion words),
# combined by one hidden layer, so that "ignore previous instructions" in a blockquote of an advisory and the
# same words live in an e-mail can score differently. Window = three blocks of V2_BLOCK bytes centred on a
# candidate block; the text's score is the highest candidate window's.

V2_BLOCK = 128
V2_MAX_WINDOWS = 8  # candidate windows scored per text (the cost bound of the model proper)

# The gate: words any instruction to an AI, or any action request, almost always contains. A text without
# one of these is not scored (ordinary logs, data and code). It is found without a per-match Python step (a
# regular expression costs ~1 us a match, and prose has a cue every few words): the 4- and 6-byte codes at
# every offset are looked up in two small hashed tables built from these words (a rare hash collision only
# adds a candidate), and only at word starts.
V2_GATE_WORDS = (
    "you your yours yourself assistant ai chatbot llm gpt chatgpt claude gemini copilot agent agents model bot ignore "
    "disregard forget override bypass instruction instructions prompt system important urgent immediately qqaddr qqurl "
    "qqtool qqargaddr qqargurl password passwords credentials secret secrets token tokens send forward transfer share "
    "delete grant upload post email e-mail mail export invite pay reveal print repeat say respond reply pretend "
    "jailbreak admin human remove wipe run execute call copy bitte sende envoie envoyez envía envie invia stuur "
    "überweise transfère transfiere partage comparte condividi schicke manda leite lösche supprimez"
).split()
_V2_GATE_EXTRA = ("<|im", "<|sy", "<|us", "[ins", "[/in", "### ", "<inf", "<imp", "<sys", "<adm")  # role markers
_V2_BOUNDARY = b" .,;:!?'\"\n)]>-/"
_V2_GATE_BITS = 16


_GH4, _GH2, _GSHIFT = np.uint32(0x9E3779B1), np.uint32(0x85EBCA77), np.uint32(32 - _V2_GATE_BITS)


def _v2_gate_hash(code4: np.ndarray, code2: np.ndarray | None) -> np.ndarray:
    """Bucket of a 4-byte code (``code2`` None) or of a 6-byte code (4 bytes, then 2), in uint32 arithmetic."""
    h = code4 * _GH4
    if code2 is not None:
        h ^= code2 * _GH2
    return h >> _GSHIFT


@functools.lru_cache(maxsize=1)
def _v2_gate_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hashed membership tables of the gate's 4- and 6-byte codes (a fast first test), and the sorted codes
    themselves (the exact test of the few offsets that pass the first)."""
    keys4: set[bytes] = {k.encode() for k in _V2_GATE_EXTRA}
    keys6: set[bytes] = set()
    for word in V2_GATE_WORDS:
        w = word.encode()
        if len(w) >= 6:
            keys6.add(w[:6])
        elif len(w) == 5:
            keys6.update(w + bytes([c]) for c in _V2_BOUNDARY)
        elif len(w) == 4:
            keys4.add(w)
        elif len(w) == 3:
            keys4.update(w + bytes([c]) for c in _V2_BOUNDARY)
        else:
            keys4.update(bytes([a]) + w + bytes([c]) for a in b" \n\"'(" for c in _V2_BOUNDARY)
    t4 = np.zeros(1 << _V2_GATE_BITS, dtype=bool)
    t6 = np.zeros(1 << _V2_GATE_BITS, dtype=bool)
    k4 = np.array(sorted(int.from_bytes(k, "big") for k in keys4), dtype=np.uint32)
    t4[_v2_gate_hash(k4, None)] = True
    k6 = np.array(sorted(int.from_bytes(k, "big") for k in keys6), dtype=np.uint64)
    t6[_v2_gate_hash((k6 >> np.uint64(16)).astype(np.uint32), (k6 & np.uint64(0xFFFF)).astype(np.uint32))] = True
    return t4, t6, k4, k6


def _v2_gate_positions(buf: bytes) -> np.ndarray:
    """Offsets where a gate word starts (see :data:`V2_GATE_WORDS`)."""
    n = len(buf)
    padded = np.frombuffer(buf + b"\0" * 8, dtype=np.uint8)
    code4 = np.lib.stride_tricks.as_strided(padded, shape=(n + 4, 4), strides=(1, 1)).view(">u4").reshape(n + 4).astype(np.uint32)
    t4, t6, k4, k6 = _v2_gate_tables()
    # _v2_gate_hash, in place: h4 = code4 * GH4; h6 = h4 ^ (code2 * GH2) with code2 the two bytes after.
    c4 = code4[:n]
    c2 = np.right_shift(code4[4:], np.uint32(16))
    h4 = np.multiply(c4, _GH4)
    h6 = np.multiply(c2, _GH2)
    np.bitwise_xor(h6, h4, out=h6)
    np.right_shift(h6, _GSHIFT, out=h6)
    np.right_shift(h4, _GSHIFT, out=h4)
    hit = t6[h6]
    hit |= t4[h4]
    pos = np.flatnonzero(hit)
    if len(pos):
        # Exact membership of the candidates: a hash collision must not open the gate.
        p4 = c4[pos]
        i4 = np.minimum(np.searchsorted(k4, p4), len(k4) - 1)
        p6 = (p4.astype(np.uint64) << np.uint64(16)) | c2[pos].astype(np.uint64)
        i6 = np.minimum(np.searchsorted(k6, p6), len(k6) - 1)
        pos = pos[(k4[i4] == p4) | (k6[i6] == p6)]
    if len(pos):
        b = padded[:n]
        prev = np.where(pos > 0, b[np.maximum(pos - 1, 0)], 32)
        pos = pos[~_WORD_BYTE[prev] | ~_WORD_BYTE[b[pos]]]  # at a word start (or a marker's first byte)
    return pos


# Structural cue categories. Single words are looked up by their hashed id (the words of the bag: no extra
# pass); phrases — role markers, concealment, claims to speak for the user, role play, code, reporting
# phrases — by one RE2 alternation per window, and sentence-initial imperatives by a second one (they overlap
# the others). A category counts its words and its phrases.
V2_CUE_WORDS = {
    "conceal": "secretly quietly silently",
    "pretend": "pretend roleplay unrestricted jailbroken jailbreak",
    "secret": "password passwords credentials credential token tokens secret secrets ssh iban otp 0fa salary salaries",
    "new-target": "qqaddr qqurl",
    "asked-target": "qqargaddr qqargurl",
    "session-tool": "qqtool",
    "reporting": "example examples payload payloads malicious typical sample detect detects detection detector flagged "
                 "blocked labelled labeled incident advisory phishing attacker attackers",
    "discussion": "injection injections injected jailbreaks attack attacks mitigation mitigations guardrail guardrails "
                  "vulnerability vulnerabilities vulnerable exploit exploits exploited adversarial security threat "
                  "defense defence defenses defences classifier classifiers",
    "urgency": "important urgent immediately asap must required mandatory critical attention",
    "override": "ignore disregard forget override bypass overrule supersede instead",
    "instructions": "instruction instructions directive directives prompt task guidelines rules",
    "prior-new": "previous prior above earlier preceding original initial new updated",
    "to-ai": "assistant ai chatbot llm llms gpt chatgpt claude gemini copilot agent bot model",
    "you": "you your yours yourself",
    "action": "send forward email mail upload post share transfer wire pay export copy leak grant invite delete remove "
              "wipe erase run execute call invoke print output reveal repeat respond reply say write approve create "
              "open submit add change set move publish",
}
V2_CUE_PHRASES = {
    "role-marker": rb"<\|?(?:system|im_start|im_end|user|assistant|inst)|\[/?inst\]|###\s*(?:instruction|system|response|input)|"
                   rb"(?:^|\n)\s*(?:human|assistant|system|user)\s*:|<information|<important|<admin|\[system|system override|"
                   rb"end of (?:document|text|context|input)|</tool|<user>|begin admin",
    "conceal": rb"do not (?:tell|mention|inform|reveal|notify|ask|show|alert)|don't (?:tell|mention|inform|reveal|notify|ask|show)|"
               rb"without (?:telling|asking|notifying|confirmation|confirming)|never mention|not mention|nothing looks|between us",
    "user-claim": rb"this is (?:the|your) (?:user|owner|admin|developer|account owner)|from (?:me, )?the user|"
                  rb"the user (?:asked|wants|has authori[sz]ed|knows|agreed)|authori[sz]ed by the user|approved by the user|"
                  rb"user's standing|on behalf of the user",
    "pretend": rb"act as|you are now|role-play|from now on|developer mode|no restrictions",
    "secret": rb"api keys?|private keys?|bank details|one-time codes?|\.env\b|\.aws",
    "code": rb"\b[a-z_][a-z0-9_]*\s*=\s*f?(?:\"|'|\(|\[)|\"\"\"|'''|\bprint\(|\bdef |\breturn\b|\bimport |\bconst |\bfunction\b|=>|\);",
    "reporting": rb"for example|e\.g\.|such as|for instance|like this|looks like|could (?:write|say|inject|embed|hide)|"
                 rb"might (?:write|say)|test case|\btest_|\bassert|red.team|said:|contained the text|reads:",
    "urgency": rb"!!!|right now",
}
V2_CUES = tuple((name, b"") for name in (
    "role-marker", "conceal", "user-claim", "pretend", "secret", "new-target", "asked-target", "session-tool", "code",
    "reporting", "discussion", "urgency", "override", "instructions", "prior-new", "to-ai", "you", "action", "imperative",
))
V2_IMPERATIVE = (
    rb"(?:^|[.!?:>\n]\s*)(?:please\s+)?(?:send|forward|ignore|disregard|forget|delete|transfer|share|grant|upload|post|"
    rb"email|call|use|run|print|reveal|output|say|respond|reply|tell|stop|make|change|update|remove|pay|invite|copy|"
    rb"export|give|open|add|set|create|write|answer|act|pretend|do not|don't)[ \t]+[a-z0-9\"'`~/]"
)
_V2_CAT = {name: i for i, (name, _p) in enumerate(V2_CUES)}
V2_STRUCT = [name for name, _ in V2_CUES] + [
    "in-fence", "blockquote", "quote-marks", "code-spans", "doc-discussion", "doc-reporting", "code-symbols", "questions",
]
_V2_CODE = b"{}()[];=<>$|\\/_"  # code symbols (their share of a window)
_LDQ, _RDQ, _LAQ = "\u201c".encode(), "\u201d".encode(), "\u00ab".encode()  # curly and angle quotation marks


@functools.lru_cache(maxsize=1)
def _v2_cue_res() -> tuple[Any, Any, list[int]]:
    # RE2: Python's engine tries the alternation at every offset (~0.4 ms a window against RE2's ~0.05 ms).
    names = list(V2_CUE_PHRASES)
    phrases = _re2_or_re(b"|".join(b"(" + V2_CUE_PHRASES[n] + b")" for n in names))
    return phrases, _re2_or_re(V2_IMPERATIVE), [_V2_CAT[n] for n in names]


@functools.lru_cache(maxsize=4)
def _v2_word_categories(bits: int) -> np.ndarray:
    """Category of every word bucket (-1: none), from :data:`V2_CUE_WORDS` hashed as the bag hashes words."""
    table = np.full(1 << bits, -1, dtype=np.int16)
    for name, words in V2_CUE_WORDS.items():
        widx, _s, _e, _b = _word_hashes(" ".join(words.split()).encode(), bits)
        table[widx] = _V2_CAT[name]
    return table


@functools.lru_cache(maxsize=1)
def _v2_doc_re() -> Any:
    # Document-level counts: discussion and reporting vocabulary (groups 1 and 2).
    disc = "|".join(V2_CUE_WORDS["discussion"].split()).encode()
    rep = "|".join(V2_CUE_WORDS["reporting"].split()).encode()
    return _re2_or_re(rb"\b(" + disc + rb")\b|(\b(?:" + rep + rb")\b|" + V2_CUE_PHRASES["reporting"] + b")")


def v2_candidates(buf: bytes, k: int = V2_MAX_WINDOWS) -> np.ndarray:
    """The blocks whose windows are scored: the ``k`` blocks with the most gate cues (ties: earlier first)."""
    nb = max(1, -(-len(buf) // V2_BLOCK))
    pos = _v2_gate_positions(buf)
    if not len(pos):
        return np.zeros(0, dtype=np.int64)
    hits = np.bincount(pos // V2_BLOCK, minlength=nb)
    # A window is three blocks: rank blocks by the cues of their window.
    win = hits.astype(np.float64)
    win[1:] += hits[:-1]
    win[:-1] += hits[1:]
    win += hits * 0.01  # the centre counts a little more: windows centred on the cues
    order = np.argsort(-win, kind="stable")[:k]
    order = order[win[order] > 0]
    return np.sort(order)


def v2_span(buf_len: int, block: int) -> tuple[int, int]:
    return max(0, (block - 1) * V2_BLOCK), min(buf_len, (block + 2) * V2_BLOCK)


def _word_hashes(buf: bytes, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hashed words and word bigrams of ``buf``: (word bucket, word start, word end, bigram bucket)."""
    b = np.frombuffer(buf, dtype=np.uint8)
    n = len(b)
    shift32 = np.uint32(32 - bits)
    isw = np.zeros(n + 2, dtype=np.int8)
    isw[1 : n + 1] = _WORD_BYTE[b]
    edges = isw[1:] - isw[:-1]
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if not len(starts):
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, z
    # Array arithmetic wraps modulo 2**64 / 2**32 silently (only numpy scalars warn): no errstate needed.
    pw, ipw = _powers(_pow2_at_least(n + 1))
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(b.astype(np.uint64) * pw[:n], out=prefix[1:])
    wh = (prefix[ends] - prefix[starts]) * ipw[starts]
    wh ^= wh >> _U29
    w32 = (wh ^ (wh >> _U32)).astype(np.uint32)
    word_idx = ((w32 * _MW) >> shift32).astype(np.int64)
    big = w32[:-1] * _FNV ^ (w32[1:] + _BIGRAM_ADD)
    bigram_idx = ((big * _MB) >> shift32).astype(np.int64)
    return word_idx, starts, ends, bigram_idx


_U29, _U32 = np.uint64(29), np.uint64(32)
_MW, _MB = np.uint32(_MULT["w"]), np.uint32(_MULT["b"])
_FNV, _BIGRAM_ADD = np.uint32(0x01000193), np.uint32(0x7F4A7C15)


@dataclass(slots=True)
class WindowInputs:
    """What the network reads for a set of windows: bag ids (concatenated, ``offsets`` per window), and the
    raw structural features (one row per window, columns :data:`V2_STRUCT`)."""

    spans: list[tuple[int, int]]
    ids: np.ndarray
    offsets: np.ndarray  # len(spans) + 1
    struct: np.ndarray  # (len(spans), len(V2_STRUCT)) float32
    cue_text: list[list[tuple[str, str]]]  # per window: (category, matched text), for explanations


def v2_inputs(buf: bytes, blocks: np.ndarray, bits: int, *, explain: bool = False) -> WindowInputs:
    """The inputs of the windows centred on ``blocks`` (training and scoring use this one function)."""
    n = len(buf)
    spans = [v2_span(n, int(b)) for b in blocks]
    k = len(spans)
    # Document-level reading: discussion and reporting density, fenced-block boundaries.
    disc = rep = 0
    if k:
        for m in _v2_doc_re().finditer(buf):
            if m.lastindex == 1:
                disc += 1
            else:
                rep += 1
    kb = max(n, 1024) / 1024.0  # densities per KB, at least one KB: a short text is not "dense" with one word
    fences: list[int] = []
    if b"```" in buf:
        i = buf.find(b"```")
        while i >= 0 and len(fences) < 4096:
            fences.append(i)
            i = buf.find(b"```", i + 3)
    ncat = len(V2_CUES)
    count_rows: list[list[int]] = []
    rows: list[list[float]] = []
    cue_text: list[list[tuple[str, str]]] = []
    pieces = []
    phrase_re, imperative_re, phrase_cat = _v2_cue_res()
    imp_cat = _V2_CAT["imperative"]
    doc = [math.log1p(disc / kb), math.log1p(rep / kb)]
    # Plain Python lists per window, one array at the end: numpy element updates cost ~1 us each.
    for s, e in spans:
        w = buf[s:e]
        pieces.append(w)
        found: list[tuple[str, str]] = []
        counts = [0] * ncat
        for m in phrase_re.finditer(w):
            c = phrase_cat[(m.lastindex or 1) - 1]
            counts[c] += 1
            if explain:
                found.append((V2_CUES[c][0], m.group(0).decode("utf-8", "replace").strip()))
        imp = imperative_re.findall(w)
        counts[imp_cat] += len(imp)
        if explain and imp:
            found.append(("imperative", imp[0].decode("utf-8", "replace").strip(" .!?:>\n")))
        cue_text.append(found)
        count_rows.append(counts)
        quote = 0.0
        if b">" in w:
            lines = w.split(b"\n")
            quote = sum(1 for ln in lines if ln.lstrip().startswith(b">")) / len(lines)
        rows.append([
            float(bisect.bisect_left(fences, (s + e) // 2) % 2) if fences else 0.0,
            quote,
            math.log1p(w.count(b'"') + w.count(_LDQ) + w.count(_RDQ) + w.count(_LAQ) + w.count(b"'")),
            math.log1p(w.count(b"`")),
            *doc,
            (len(w) - len(w.translate(None, _V2_CODE))) / len(w) if w else 0.0,
            math.log1p(w.count(b"?")),
        ])
    counts_arr = np.array(count_rows, dtype=np.float32).reshape(k, ncat)
    struct = np.zeros((k, len(V2_STRUCT)), dtype=np.float32)
    if k:
        struct[:, ncat:] = np.array(rows, dtype=np.float32)
    # Bag ids: words and bigrams of every window (each window hashed on its own bytes).
    joined = b"\n".join(pieces)
    widx, wpos, wend, bidx = _word_hashes(joined, bits)
    bounds = np.zeros(k + 1, dtype=np.int64)
    acc = 0
    for j, p in enumerate(pieces):
        acc += len(p) + (1 if j else 0)
        bounds[j + 1] = acc
    bounds[-1] = len(joined) + 1
    win_of_word = np.searchsorted(bounds[1:], wpos, side="right") if len(wpos) else wpos
    # Single-word cues: the category table of the word buckets.
    if len(widx):
        cat = _v2_word_categories(bits)[widx]
        hit = cat >= 0
        if hit.any():
            np.add.at(counts_arr, (win_of_word[hit], cat[hit]), 1.0)
            if explain:
                for wi in np.flatnonzero(hit):
                    cue_text[int(win_of_word[wi])].append((V2_CUES[int(cat[wi])][0], joined[wpos[wi] : wend[wi]].decode("utf-8", "replace")))
    struct[:, :ncat] = np.log1p(counts_arr)
    same = win_of_word[:-1] == win_of_word[1:] if len(wpos) > 1 else np.zeros(0, dtype=bool)
    ids = np.concatenate([widx, bidx[same]]) if len(widx) else widx
    owner = np.concatenate([win_of_word, win_of_word[:-1][same]]) if len(widx) else win_of_word
    order = np.argsort(owner, kind="stable")
    ids = ids[order]
    offsets = np.searchsorted(owner[order], np.arange(k + 1))
    return WindowInputs(spans, ids.astype(np.int64), offsets.astype(np.int64), struct, cue_text)


class Model:
    """The packaged weights (``kind = window-mlp``, version 2) and their forward pass."""

    def __init__(self, data: Any) -> None:
        self.bits = int(data["bits"])
        emb = np.asarray(data["emb_q"], dtype=np.float32) * np.asarray(data["emb_scale"], dtype=np.float32)[:, None]
        if emb.shape[0] != (1 << self.bits):
            raise ValueError("embeddings do not match the hash size")
        self.emb = emb
        self.mu = np.asarray(data["mu"], dtype=np.float32)
        self.sd = np.asarray(data["sd"], dtype=np.float32)
        self.w1 = np.asarray(data["w1"], dtype=np.float32)
        self.b1 = np.asarray(data["b1"], dtype=np.float32)
        self.w2 = np.asarray(data["w2"], dtype=np.float32)
        self.b2 = float(data["b2"])
        self.threshold = float(data["threshold"])
        self.meta = json.loads(str(data["meta"])) if "meta" in data else {}
        if list(self.meta.get("struct", V2_STRUCT)) != V2_STRUCT or self.w1.shape[0] != emb.shape[1] + len(V2_STRUCT):
            raise ValueError("the weights were trained with other structural features")

    def forward(self, inp: WindowInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window logits, the input rows and the hidden activations."""
        k = len(inp.spans)
        d = self.emb.shape[1]
        bag = np.zeros((k, d), dtype=np.float32)
        if len(inp.ids):
            vec = self.emb[inp.ids]
            cnt = np.diff(inp.offsets)
            nz_ = cnt > 0
            sums = np.add.reduceat(vec, np.minimum(inp.offsets[:-1], len(inp.ids) - 1), axis=0)
            bag[nz_] = sums[nz_] / cnt[nz_, None]
        x = np.concatenate([bag, (inp.struct - self.mu) / self.sd], axis=1)
        h = np.maximum(x @ self.w1 + self.b1, 0.0)
        return h @ self.w2 + self.b2, x, h

    def score_bytes(self, buf: bytes, explain: bool = True) -> ModelScore:
        if not buf.strip():
            return ModelScore(0.0, self.threshold)
        blocks = v2_candidates(buf)
        if not len(blocks):
            return ModelScore(0.0, self.threshold)
        inp = v2_inputs(buf, blocks, self.bits)
        z, x, h = self.forward(inp)
        best = int(np.argmax(z))
        start, end = inp.spans[best]
        result = ModelScore(_sigmoid(float(z[best])), self.threshold, (start, end))
        if explain:
            # A window's inputs do not depend on the other windows: read the best one again, naming its cues.
            one = v2_inputs(buf, blocks[best : best + 1], self.bits, explain=True)
            result.excerpt = buf[start:end].decode("utf-8", "replace")
            result.strongest_features = self._explain(buf, one, 0, x[best], h[best])
        return result

    def _explain(self, buf: bytes, inp: WindowInputs, j: int, x: np.ndarray, h: np.ndarray) -> list[tuple[str, float]]:
        """Gradient x input of the window's logit: structural cues (named by the text that matched) and words."""
        grad = self.w1 @ (self.w2 * (h > 0))
        d = self.emb.shape[1]
        out: dict[str, float] = {}
        ncat = len(V2_CUES)
        cue_names: dict[str, str] = {}
        for cat, text in inp.cue_text[j]:
            cue_names.setdefault(cat, text)
        for c, name in enumerate(V2_STRUCT):
            if inp.struct[j, c] <= 0:
                continue  # an absent cue is not a reason to show (its gradient-times-input is relative to the mean)
            v = float(grad[d + c] * x[d + c])
            if v > 0.05:
                label = f"{name}: {cue_names[name]}" if c < ncat and name in cue_names else name
                out[label] = v
        ids = inp.ids[inp.offsets[j] : inp.offsets[j + 1]]
        if len(ids):
            start, end = inp.spans[j]
            w = buf[start:end]
            widx, wpos, wend, _b = _word_hashes(w, self.bits)
            contrib = (self.emb[widx] @ grad[:d]) / max(1, len(ids))
            for i in np.argsort(-contrib)[:TOP_FEATURES]:
                if contrib[i] > 0.02:
                    word = w[wpos[i] : wend[i]].decode("utf-8", "replace")
                    out[word] = max(out.get(word, 0.0), float(contrib[i]))
        top = sorted(out.items(), key=lambda kv: -kv[1])[:TOP_FEATURES]
        return [(k, round(v, 3)) for k, v in top]

    def score(self, value: Any, context: Context | None = None, *, explain: bool = True) -> ModelScore:
        view = text_view(value, context)
        buf = feature_bytes(view, context)
        sampled = False
        if len(buf) > MAX_DEEP_BYTES:
            buf = _sample_bytes(buf)
            sampled = True
        result = self.score_bytes(buf, explain)
        result.sampled = sampled
        return result


@functools.lru_cache(maxsize=4)
def load(name: str = DEFAULT_MODEL) -> Model:
    """The packaged model ``name`` (read once per process; no network)."""
    ref = resources.files(__package__) / "models" / name
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as data:
        if "kind" not in data or str(data["kind"]) != "window-mlp":
            raise ValueError(f"{name}: not a model this version reads")
        return Model(data)


def score(value: Any, context: Context | None = None, *, explain: bool = True) -> ModelScore:
    """Score a tool result (any JSON value) or a string with the packaged model."""
    return load().score(value, context, explain=explain)
