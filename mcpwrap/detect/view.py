"""What the model reads: one text for a whole message, shared by the phrase tier and the learned tier.

A tool result reaches the model as one context: every content item, every string value and (prose) object key
of ``structuredContent``, in document order. Scanning each string alone lets an instruction split over two
content items, or written into an object key, pass although the model reads it whole. So detectors score a
:class:`View`: the strings a model reads, joined by newlines, with the JSON path of each piece so a verdict
can say *where* its window is.

- Strings are walked with :func:`mcpwrap._strings.iter_strings` (object keys included when they hold whitespace
  or are :data:`MIN_PROSE_KEY_CHARS` long — ``ignore_all_previous_instructions`` — identifiers left out; binary
  payloads — ``data`` of image/audio items, ``blob`` — left out) down to
  :data:`mcpwrap._protocol.MAX_DEPTH`, the one depth the decoder accepts. Protocol ``_meta`` directly under a
  content root is left out: clients do not show it to the model.
- A string that is itself JSON (what TypeScript servers return as ``text``) is parsed and walked the same way,
  so pretty-printed and compact JSON of one value give the same view (no braces that make prose "look like
  code"). JSON text longer than :data:`MAX_JSON_PARSE_CHARS` is kept as text (linear cost bound).
- A string of :data:`DEDUPE_MIN_CHARS` or more that repeats verbatim (``structuredContent`` repeating the text
  item) is read once.

Decoded layers (escapes, HTML comments and hidden elements, tag characters, base64/hex/percent runs) are not
added here: each tier decodes the joined text itself, the phrase tier counting the hiding as a signal of its
own. Every step is a linear pass.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

from .._protocol import MAX_DEPTH
from .._strings import DepthError, iter_strings, json_path

__all__ = ["View", "view_of", "safe_path", "MAX_JSON_PARSE_CHARS", "DEDUPE_MIN_CHARS"]

MAX_JSON_PARSE_CHARS = 1 << 20  # JSON text inside a string longer than this is read as text, not parsed
DEDUPE_MIN_CHARS = 64  # strings at least this long are read once per view
SEPARATOR = "\n"
_ITEM_TYPES = frozenset({"text", "image", "audio", "resource", "resource_link"})
MIN_PROSE_KEY_CHARS = 20  # keys without whitespace shorter than this are identifiers, left out of the view


@dataclass(slots=True)
class View:
    """The joined text and where each piece came from (``starts[i]`` is the offset of ``paths[i]``'s text)."""

    text: str = ""
    paths: list[tuple] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    def path_at(self, offset: int) -> tuple:
        """The JSON path of the piece that holds character ``offset`` of :attr:`text`."""
        if not self.paths:
            return ()
        i = bisect.bisect_right(self.starts, max(0, offset)) - 1
        return self.paths[max(0, i)]

    def main_path(self, start: int, end: int) -> tuple:
        """The path of the piece with the largest share of ``[start, end)`` (where a window mostly lies)."""
        if not self.paths:
            return ()
        i = max(0, bisect.bisect_right(self.starts, max(0, start)) - 1)
        best, best_len = self.paths[i], -1
        while i < len(self.paths) and self.starts[i] < max(end, start + 1):
            piece_end = self.starts[i + 1] - len(SEPARATOR) if i + 1 < len(self.starts) else len(self.text)
            overlap = min(end, piece_end) - max(start, self.starts[i])
            if overlap > best_len:
                best, best_len = self.paths[i], overlap
            i += 1
        return best

    def paths_between(self, start: int, end: int, limit: int = 8) -> list[str]:
        """JSON paths (as text) of the pieces overlapping ``[start, end)``, at most ``limit``."""
        if not self.paths:
            return []
        i = max(0, bisect.bisect_right(self.starts, max(0, start)) - 1)
        out: list[str] = []
        while i < len(self.paths) and self.starts[i] < max(end, start + 1) and len(out) < limit:
            p = safe_path(self.paths[i])
            if p not in out:
                out.append(p)
            i += 1
        return out


MAX_PATH_KEY_CHARS = 32  # longer keys (or keys with whitespace) are not spelled out in a path


def safe_path(path: tuple) -> str:
    """A JSON path to show in verdicts: a key that is prose (whitespace, or longer than
    :data:`MAX_PATH_KEY_CHARS`) is replaced by a placeholder — a path that quoted an injected key would carry the
    withheld text back to the model in the verdict's reason."""
    shown = tuple(
        f"<key of {len(k)} characters>" if isinstance(k, str) and k != "<key>" and (len(k) > MAX_PATH_KEY_CHARS or any(c.isspace() for c in k)) else k
        for k in path
    )
    return json_path(shown)


def _parse_json(s: str) -> Any:
    try:
        import orjson

        return orjson.loads(s)
    except Exception:  # noqa: BLE001 - not JSON, or JSON orjson refuses (e.g. > 64-bit integers)
        pass
    try:
        return json.loads(s)
    except (ValueError, RecursionError):
        return None


def _walk(value: Any, path: tuple, pieces: list[tuple[tuple, str]], seen: set[str], skip_meta: bool) -> None:
    for p, s in iter_strings(value, path, keys=True):
        if skip_meta and len(p) > len(path) and p[len(path)] == "_meta":
            continue
        if p and p[-1] == "type" and s in _ITEM_TYPES:
            continue  # a content item's type tag: the client renders it, the model does not read it as words
        if p and p[-1] == "<key>" and len(s) < MIN_PROSE_KEY_CHARS and not any(c.isspace() for c in s):
            continue  # an identifier ("content", "text"): nothing a model would take as an instruction
        if len(s) >= DEDUPE_MIN_CHARS:
            if s in seen:
                continue
            seen.add(s)
        head = s[:1]
        if head.isspace():
            head = s.lstrip()[:1]
        if head in ("{", "[") and len(s) <= MAX_JSON_PARSE_CHARS and len(p) < MAX_DEPTH - 1:
            parsed = _parse_json(s)
            if isinstance(parsed, (dict, list)):
                try:
                    sub: list[tuple[tuple, str]] = []
                    _walk(parsed, p, sub, seen, False)
                except DepthError:
                    pass  # deeper than any decoded message could be: read the JSON text as it is
                else:
                    pieces.extend(sub)
                    continue
        pieces.append((p, s))


def view_of(value: Any, roots: tuple[str, ...] | None = None) -> View:
    """The view of ``value``: a string, any JSON value, or (``roots`` given) the content roots of an envelope.

    Raises :class:`mcpwrap._strings.DepthError` for a value deeper than the decoder accepts."""
    pieces: list[tuple[tuple, str]] = []
    seen: set[str] = set()
    if roots is not None:
        for root in roots:
            _walk(value[root], (root,), pieces, seen, True)
    elif isinstance(value, str):
        _walk(value, (), pieces, seen, False)
    else:
        _walk(value, (), pieces, seen, isinstance(value, dict))
    if len(pieces) == 1:
        return View(pieces[0][1], [pieces[0][0]], [0])  # the string itself: detectors' per-buffer caches still hit
    starts: list[int] = []
    pos = 0
    for _p, s in pieces:
        starts.append(pos)
        pos += len(s) + len(SEPARATOR)
    return View(SEPARATOR.join(s for _p, s in pieces), [p for p, _s in pieces], starts)
