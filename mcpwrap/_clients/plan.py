"""Wrapping and unwrapping the stdio servers of a configuration file: plans, pure functions over its text.

:func:`plan_enable` rewrites every selected stdio server into the wrapped form (:mod:`mcpwrap._clients.entries`)
and records the original in ``x-mcpwrap`` so that :func:`plan_disable` restores it to the byte. If a client
drops that member when it rewrites its file, disable restores from the wrapped command line itself (everything
after ``--``); and if the user edited the wrapped server's command line after enable, that edit wins over the
record. Before any file is written, enable checks that disable would give back exactly the original text; when
the file's formatting cannot be reproduced from the values (unusual escapes, irregular layout) the original
JSON text itself is recorded as well.

An entry that only looks wrapped (its ``mcpwrap`` is not mcpwrap, see :mod:`mcpwrap._clients.install`) is
wrapped like any server (a marker it carries is kept inside ours and put back by disable). An entry wrapped by
another mcpwrap installation, or by one that no longer exists, is *repointed*: only its launcher changes, to
the one enable writes now, so that deleting a checkout or a temporary venv can be repaired by one ``enable``.

Every edit is surgical (:mod:`mcpwrap._clients.jsonedit`) and every write safe (:mod:`mcpwrap._clients.safewrite`,
driven by :mod:`mcpwrap._clients.ops`). The functions here are pure over text, so dry runs, the merge after a
concurrent change, and the tests all use the same code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from typing import Any

from .._errors import ClientConfigError
from .entries import MARKER, Entry, WrapSpec, parse_wrapped, scan
from .jsonedit import (
    ArrayLayout,
    Edit,
    Node,
    apply_edits,
    array_layout,
    insert_member,
    line_indent,
    member_layout,
    parse,
    remove_member,
)
from .locations import SCOPES, ConfigFile

__all__ = ["Row", "Selection", "FileResult", "plan_enable", "plan_disable"]


@dataclass
class Row:
    """One line of the summary: what happened (or would happen) to one server."""

    client: str
    scope: str
    project: str | None
    server: str
    before: str
    after: str
    action: str  # "wrapped", "repointed", "restored", "unchanged", "skipped"
    note: str = ""
    file: str = ""


@dataclass
class Selection:
    scopes: frozenset[str] = frozenset(SCOPES)
    servers: frozenset[str] | None = None
    projects: frozenset[str] | None = None  # local scope: only these project keys (resolved paths)

    def wants(self, entry: Entry) -> bool:
        if entry.scope not in self.scopes:
            return False
        if self.servers is not None and entry.name not in self.servers:
            return False
        if entry.scope == "local" and self.projects is not None:
            return _same_dir(entry.project or "") in self.projects
        return True


def _same_dir(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _row(entry: Entry, after: str, action: str, note: str = "") -> Row:
    return Row(
        entry.file.client, entry.scope, entry.project, entry.name, entry.command_line(), after, action,
        note or entry.note, str(entry.file.path),
    )


def _default_layout(text: str, entry: Node) -> ArrayLayout:
    multiline, lead, unit = member_layout(text, entry)
    if multiline:
        indent = lead.lstrip("\r\n")
        return ArrayLayout(True, item_indent=indent + unit, close_indent=indent, newline=lead[: len(lead) - len(indent)])
    return ArrayLayout(False)


def _wrap_edits(text: str, entry: Entry, spec: WrapSpec, record_text: bool) -> list[Edit]:
    node = entry.node
    cmd_m = node.member("command")
    args_m = node.member("args")
    assert cmd_m is not None  # a stdio entry has a command (scan checked it)
    original: dict[str, Any] = {"command": cmd_m.node.value}
    if args_m is not None:
        original["args"] = args_m.node.value
    new_command, new_args = spec.wrapped(entry.name, cmd_m.node.value, list(original.get("args", [])))
    edits = [Edit(cmd_m.node.start, cmd_m.node.end, json.dumps(new_command, ensure_ascii=False))]
    if args_m is not None:
        layout = array_layout(text, args_m.node, fallback=_default_layout(text, node))
        edits.append(Edit(args_m.node.start, args_m.node.end, layout.render(new_args)))
    else:
        edits.append(insert_member(text, node, "args", new_args, after=cmd_m))
    marker: dict[str, Any] = {"original": original}
    if record_text:
        marker["text"] = {"command": text[cmd_m.node.start : cmd_m.node.end]}
        if args_m is not None:
            marker["text"]["args"] = text[args_m.node.start : args_m.node.end]
    existing = node.member(MARKER)
    if existing is None:
        edits.append(insert_member(text, node, MARKER, marker))
    else:
        # A look-alike carrying a marker of its own: ours takes its place and keeps its text for disable.
        marker["previous"] = text[existing.node.start : existing.node.end]
        edits.append(Edit(existing.node.start, existing.node.end, json.dumps(marker, ensure_ascii=False)))
    return edits


def _repoint_edits(text: str, entry: Entry, spec: WrapSpec) -> list[Edit]:
    """An entry wrapped by another (or a vanished) mcpwrap, started by ``spec``'s launcher instead."""
    node = entry.node
    cmd_m, args_m = node.member("command"), node.member("args")
    assert cmd_m is not None and args_m is not None  # a wrapped entry has both
    command, args = spec.repointed(cmd_m.node.value, list(args_m.node.value))
    layout = array_layout(text, args_m.node, fallback=_default_layout(text, node))
    return [Edit(cmd_m.node.start, cmd_m.node.end, json.dumps(command, ensure_ascii=False)), Edit(args_m.node.start, args_m.node.end, layout.render(args))]


def _unwrap_edits(text: str, entry: Entry) -> list[Edit]:
    node = entry.node
    w = entry.wrapped
    assert w is not None
    cmd_m, args_m, marker_m = node.member("command"), node.member("args"), node.member(MARKER)
    assert cmd_m is not None and args_m is not None  # a wrapped entry has both (parse_wrapped checked them)
    marker = marker_m.node.value if marker_m is not None else None
    original = marker.get("original") if isinstance(marker, dict) else None
    recorded = (
        isinstance(original, dict)
        and original.get("command") == w.command
        and (original.get("args", []) == w.args)
    )
    raw = marker["text"] if recorded and isinstance(marker, dict) and isinstance(marker.get("text"), dict) else {}
    edits = [Edit(cmd_m.node.start, cmd_m.node.end, raw.get("command") or json.dumps(w.command, ensure_ascii=False))]
    if recorded and isinstance(original, dict) and "args" not in original:
        edits.append(remove_member(text, node, args_m))
    else:
        layout = array_layout(text, args_m.node, fallback=_default_layout(text, node))
        edits.append(Edit(args_m.node.start, args_m.node.end, raw.get("args") or layout.render(w.args)))
    if marker_m is not None:
        previous = marker.get("previous") if isinstance(marker, dict) else None
        if isinstance(previous, str):  # the look-alike's own marker, as it was
            edits.append(Edit(marker_m.node.start, marker_m.node.end, previous))
        else:
            edits.append(remove_member(text, node, marker_m))
    return edits


@dataclass
class FileResult:
    file: ConfigFile
    text: str
    new_text: str
    rows: list[Row]


def plan_enable(cf: ConfigFile, text: str, spec: WrapSpec, selection: Selection) -> FileResult:
    """The new text of a file with every selected stdio server (and look-alike) wrapped, every server wrapped
    by another or a vanished mcpwrap pointed at ``spec``'s launcher, and the summary rows."""
    trusted = spec.launcher[:1]
    _, entries = scan(cf, text, trusted=trusted)
    chosen = [e for e in entries if selection.wants(e)]
    todo = [e for e in chosen if e.wrappable]
    repoint = [e for e in chosen if e.ours and e.launcher_command != spec.launcher]
    moves = [edit for entry in repoint for edit in _repoint_edits(text, entry, spec)]
    edits: list[Edit] = list(moves)
    for entry in todo:
        record_text = not _entry_round_trips(cf, text, entry, spec)  # then keep the original JSON text as well
        edits += _wrap_edits(text, entry, spec, record_text)
    new_text = apply_edits(text, edits)
    expected = apply_edits(text, moves)  # what disable of the newly wrapped entries must give back
    if todo and not _restores_exactly(cf, expected, new_text, {(t.scope, t.project, t.name) for t in todo}, trusted):
        # would be a bug in the edit functions: refuse rather than risk the user's file
        raise ClientConfigError(f"{cf.path}: cannot wrap without losing the original formatting; not modified")
    after = {(e.scope, e.project, e.name): e for e in scan(cf, new_text, trusted=trusted)[1]} if todo or repoint else {}
    rows: list[Row] = []
    for entry in chosen:
        key = (entry.scope, entry.project, entry.name)
        if entry.wrappable:
            rows.append(_row(entry, after[key].command_line(), "wrapped"))
        elif entry in repoint:
            why = entry.note if entry.state == "stale" else f"was started by {entry.launcher_command[0]}"
            rows.append(_row(entry, after[key].command_line(), "repointed", why))
        elif entry.ours:
            rows.append(_row(entry, "(already wrapped)", "unchanged", "already wrapped by mcpwrap"))
        else:
            rows.append(_row(entry, "(not wrapped)", "skipped"))
    return FileResult(cf, text, new_text, rows)


def _entry_round_trips(cf: ConfigFile, text: str, entry: Entry, spec: WrapSpec) -> bool:
    """Would disable give back this entry's exact text from the values alone?

    Checked on the entry by itself (preceded by its line's indentation, which is all the layout functions look
    at), so that a large file is not parsed again for every server.
    """
    sub = line_indent(text, entry.node.start) + text[entry.node.start : entry.node.end]
    shallow = lambda path: len(path) <= 1  # noqa: E731 - the entry and its members' values
    node = parse(sub, shallow, jsonc=cf.jsonc)
    wrapped_sub = apply_edits(sub, _wrap_edits(sub, replace(entry, node=node), spec, record_text=False))
    wnode = parse(wrapped_sub, shallow, jsonc=cf.jsonc)
    w = parse_wrapped(wnode.value.get("command"), wnode.value.get("args"))
    if w is None:  # pragma: no cover - the wrapped form always parses
        return False
    restored = apply_edits(wrapped_sub, _unwrap_edits(wrapped_sub, replace(entry, node=wnode, wrapped=w, state="wrapped")))
    return restored == sub


def _restores_exactly(cf: ConfigFile, original: str, wrapped: str, keys: set, trusted: tuple[str, ...]) -> bool:
    _, entries = scan(cf, wrapped, trusted=trusted)
    edits = [e for entry in entries if (entry.scope, entry.project, entry.name) in keys and entry.ours for e in _unwrap_edits(wrapped, entry)]
    return apply_edits(wrapped, edits) == original


def plan_disable(cf: ConfigFile, text: str, selection: Selection) -> FileResult:
    """The new text of a file with every selected mcpwrap-wrapped server restored, and the summary rows."""
    _, entries = scan(cf, text)
    chosen = [e for e in entries if selection.wants(e)]
    todo = [e for e in chosen if e.ours]
    new_text = apply_edits(text, [e for entry in todo for e in _unwrap_edits(text, entry)])
    after = {(e.scope, e.project, e.name): e for e in scan(cf, new_text)[1]} if todo else {}
    rows: list[Row] = []
    for entry in chosen:
        if entry.ours:
            rows.append(_row(entry, after[(entry.scope, entry.project, entry.name)].command_line(), "restored"))
        else:
            rows.append(_row(entry, "(not wrapped)", "unchanged", entry.note if entry.state == "lookalike" else "not wrapped by mcpwrap"))
    return FileResult(cf, text, new_text, rows)
