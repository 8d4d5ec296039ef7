"""Format-preserving edits of JSON documents: locate values by their character spans, replace only those.

Client configuration files are edited by people and rewritten by the clients themselves (Claude Code
re-serialises ``~/.claude.json`` while it runs). Re-serialising the whole document would reorder nothing in
Python but would change indentation, escapes and the trailing newline, so every edit here is *surgical*:
:func:`parse` returns a tree of :class:`Node` objects that know the exact ``[start, end)`` span of each value
and member, and :func:`apply_edits` splices new text into those spans only. Everything outside an edited span
stays byte for byte.

Large files stay fast: only the containers selected by ``descend(path)`` are walked in Python; every other
value is decoded (and its end found) by the C-accelerated :meth:`json.JSONDecoder.raw_decode`.

JSONC (comments and trailing commas, as in VS Code's ``mcp.json``) is accepted with ``jsonc=True``; then every
container is walked, since ``raw_decode`` knows no comments.

Invariants: a document that :func:`json.loads` rejects (outside JSONC extensions) is rejected here too, with
line and column; duplicate keys in a walked object are an error (which one a client uses is not defined);
``NaN``/``Infinity`` are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._errors import ClientConfigError

__all__ = [
    "JsonSyntaxError",
    "Node",
    "Member",
    "Edit",
    "parse",
    "apply_edits",
    "render",
    "line_indent",
    "ArrayLayout",
    "array_layout",
    "insert_member",
    "remove_member",
]


class JsonSyntaxError(ClientConfigError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        super().__init__(f"line {line} column {column}: {message}")
        self.line, self.column, self.pos = line, column, pos


@dataclass
class Member:
    key: str
    start: int  # the opening quote of the key
    node: Node

    @property
    def end(self) -> int:
        return self.node.end


@dataclass
class Node:
    start: int
    end: int
    value: Any
    members: list[Member] | None = None  # objects that were walked
    items: list[Node] | None = None  # arrays that were walked

    def member(self, key: str) -> Member | None:
        for m in self.members or ():
            if m.key == key:
                return m
        return None

    @property
    def kind(self) -> str:
        if isinstance(self.value, dict):
            return "object"
        if isinstance(self.value, list):
            return "array"
        return "scalar"


@dataclass(order=True)
class Edit:
    start: int
    end: int
    text: str = field(compare=False)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_WS = re.compile(r"[ \t\n\r]*")
_WS_JSONC = re.compile(r"(?:[ \t\n\r]+|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")


class _Parser:
    def __init__(self, text: str, descend: Callable[[tuple], bool], jsonc: bool) -> None:
        self.text = text
        self.descend = descend
        self.jsonc = jsonc
        self.ws = _WS_JSONC if jsonc else _WS

    def skip(self, pos: int) -> int:
        m = self.ws.match(self.text, pos)
        return m.end() if m is not None else pos  # the whitespace pattern matches the empty string

    def error(self, message: str, pos: int) -> JsonSyntaxError:
        return JsonSyntaxError(message, self.text, pos)

    def value(self, pos: int, path: tuple) -> Node:
        text = self.text
        if pos >= len(text):
            raise self.error("unexpected end of document, expected a value", pos)
        ch = text[pos]
        if ch in "{[" and (self.jsonc or self.descend(path)):
            return self.obj(pos, path) if ch == "{" else self.arr(pos, path)
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise self.error(exc.msg, exc.pos) from None
        except (ValueError, RecursionError) as exc:
            raise self.error(str(exc), pos) from None
        return Node(pos, end, value)

    def string(self, pos: int) -> tuple[str, int]:
        if self.text[pos : pos + 1] != '"':
            raise self.error("expected a string key in double quotes", pos)
        try:
            return json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            raise self.error(exc.msg, exc.pos) from None

    def obj(self, start: int, path: tuple) -> Node:
        text = self.text
        pos = self.skip(start + 1)
        members: list[Member] = []
        value: dict = {}
        if text[pos : pos + 1] == "}":
            return Node(start, pos + 1, value, members=members)
        while True:
            key_start = pos
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if text[pos : pos + 1] != ":":
                raise self.error("expected ':' after a key", pos)
            pos = self.skip(pos + 1)
            node = self.value(pos, path + (key,))
            if key in value:
                raise self.error(f"duplicate key {key!r}", key_start)
            value[key] = node.value
            members.append(Member(key, key_start, node))
            pos = self.skip(node.end)
            ch = text[pos : pos + 1]
            if ch == "}":
                return Node(start, pos + 1, value, members=members)
            if ch != ",":
                raise self.error("expected ',' or '}' after an object member", pos)
            pos = self.skip(pos + 1)
            if self.jsonc and text[pos : pos + 1] == "}":
                return Node(start, pos + 1, value, members=members)

    def arr(self, start: int, path: tuple) -> Node:
        text = self.text
        pos = self.skip(start + 1)
        items: list[Node] = []
        if text[pos : pos + 1] == "]":
            return Node(start, pos + 1, [], items=items)
        while True:
            node = self.value(pos, path + (len(items),))
            items.append(node)
            pos = self.skip(node.end)
            ch = text[pos : pos + 1]
            if ch == "]":
                return Node(start, pos + 1, [n.value for n in items], items=items)
            if ch != ",":
                raise self.error("expected ',' or ']' after an array item", pos)
            pos = self.skip(pos + 1)
            if self.jsonc and text[pos : pos + 1] == "]":
                return Node(start, pos + 1, [n.value for n in items], items=items)


def parse(text: str, descend: Callable[[tuple], bool] = lambda path: True, *, jsonc: bool = False) -> Node:
    """Parse a whole document; containers whose key path satisfies ``descend`` get member/item spans."""
    p = _Parser(text, descend, jsonc)
    pos = p.skip(1 if text.startswith("\ufeff") else 0)
    if pos >= len(text):
        raise p.error("the file is empty, expected a JSON object", pos)
    try:
        root = p.value(pos, ())
    except RecursionError:
        raise p.error("nesting too deep", pos) from None
    end = p.skip(root.end)
    if end != len(text):
        raise p.error("unexpected text after the JSON document", end)
    return root


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Splice non-overlapping edits into ``text``."""
    out: list[str] = []
    pos = 0
    for edit in sorted(edits):
        if edit.start < pos:
            raise ValueError("overlapping edits")
        out.append(text[pos : edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


# --- layout --------------------------------------------------------------------------------------------------


def line_indent(text: str, pos: int) -> str:
    """The leading whitespace of the line holding ``pos``."""
    line_start = text.rfind("\n", 0, pos) + 1
    m = re.compile(r"[ \t]*").match(text, line_start)
    return m.group(0) if m is not None else ""


def _is_multiline(text: str, node: Node) -> bool:
    return "\n" in text[node.start : node.end]


def indent_unit(text: str, obj: Node) -> str:
    """The indentation step used inside ``obj`` (its members' indent minus its own line's), default 2 spaces."""
    if obj.members:
        outer = line_indent(text, obj.start)
        inner = line_indent(text, obj.members[0].start)
        if _is_multiline(text, obj) and inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
    return "  "


def render(value: Any, *, indent: str | None, level: str = "") -> str:
    """JSON text for ``value``: inline when ``indent`` is None, else one item per line (like JSON.stringify).

    Strings are escaped as JavaScript's JSON.stringify does (non-ASCII kept, control characters escaped), so a
    value rendered here equals what Claude Code itself would write.
    """
    if indent is None:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = level + indent
        parts = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {render(v, indent=indent, level=inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(parts) + "\n" + level + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = level + indent
        return "[\n" + ",\n".join(inner + render(v, indent=indent, level=inner) for v in value) + "\n" + level + "]"
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class ArrayLayout:
    """How an array is laid out, so a replacement array can be written the same way."""

    multiline: bool
    item_indent: str = ""  # multi-line: the indent of each item line
    close_indent: str = ""  # multi-line: the indent of the closing bracket
    separator: str = ", "  # inline: what follows each comma
    newline: str = "\n"

    def render(self, items: list) -> str:
        if not items:
            return "[]"
        if self.multiline:
            unit = self.item_indent[len(self.close_indent) :] if self.item_indent.startswith(self.close_indent) else "  "
            nl = self.newline
            body = ("," + nl).join(self.item_indent + render(v, indent=unit, level=self.item_indent) for v in items)
            return "[" + nl + body + nl + self.close_indent + "]"
        return "[" + ("," + self.separator.lstrip(",")).join(render(v, indent=None) for v in items) + "]"


def array_layout(text: str, node: Node, *, fallback: ArrayLayout) -> ArrayLayout:
    """The layout of an array node; ``fallback`` for an empty array (whose layout says nothing)."""
    if not node.items:
        return fallback
    if not _is_multiline(text, node):
        separator = ", "
        if len(node.items) > 1:
            between = text[node.items[0].end : node.items[1].start]
            separator = between[between.index(",") + 1 :] if "," in between else " "
        return ArrayLayout(False, separator=separator)
    return ArrayLayout(
        True,
        item_indent=line_indent(text, node.items[0].start),
        close_indent=line_indent(text, node.end - 1),
        newline=newline_of(text, node),
    )


def newline_of(text: str, node: Node) -> str:
    """The line break used inside ``node``: CRLF if it has any, else LF."""
    return "\r\n" if "\r\n" in text[node.start : node.end] else "\n"


def member_layout(text: str, obj: Node) -> tuple[bool, str, str]:
    """(multiline, what precedes a member after a comma, the indent unit) for members of ``obj``."""
    if obj.members and _is_multiline(text, obj):
        first = obj.members[0].start
        return True, newline_of(text, obj) + line_indent(text, first), indent_unit(text, obj)
    members = obj.members or []
    if len(members) > 1:
        between = text[members[0].end : members[1].start]
        return False, between[between.index(",") + 1 :] if "," in between else " ", "  "
    return False, " ", "  "


def insert_member(text: str, obj: Node, key: str, value: Any, *, after: Member | None = None) -> Edit:
    """An edit inserting ``"key": value`` after member ``after`` (default: after the last member)."""
    multiline, lead, unit = member_layout(text, obj)
    rendered = render(value, indent=unit if multiline else None, level=lead.lstrip("\r\n") if multiline else "")
    if multiline and lead.startswith("\r\n"):
        rendered = rendered.replace("\n", "\r\n")  # JSON text has no raw newlines inside strings
    member_text = f"{json.dumps(key, ensure_ascii=False)}: {rendered}"
    anchor = after or (obj.members[-1] if obj.members else None)
    if anchor is None:  # an empty object: {} becomes { "key": value }
        return Edit(obj.start + 1, obj.end - 1, f"{member_text}")
    return Edit(anchor.end, anchor.end, "," + lead + member_text)


def remove_member(text: str, obj: Node, member: Member) -> Edit:
    """An edit removing ``member`` together with the comma and whitespace that separate it from its neighbour."""
    members = obj.members or []
    i = members.index(member)
    if i > 0:  # take the preceding comma and whitespace: `, "key": value`
        return Edit(members[i - 1].end, member.end, "")
    if len(members) > 1:  # the first of several: take up to the next member
        return Edit(member.start, members[1].start, "")
    return Edit(obj.start + 1, obj.end - 1, "")
