"""Pinned definitions as a person reviews them: listing rows, a readable form, and the diff of a held change.

``mcpwrap tools list`` and ``review`` print these; the decision itself is :meth:`PinStore.approve` /
:meth:`PinStore.reject` (see :mod:`mcpwrap._state.pins`).

The readable form is indented ``key: value`` lines with keys sorted, long text wrapped at :data:`WRAP_WIDTH`
(so a diff shows the sentence that changed, not one changed 2 000-character line) and every invisible or
control character written as an escape (:func:`mcpwrap._text.visible`): a reviewer must see what the model
would read, including what a terminal would not show.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from typing import Any

from .._text import visible
from .pins import INSTRUCTIONS, TOOL_PREFIX, PinStore, PinStoreError, entry_status

__all__ = ["WRAP_WIDTH", "HELD_STATUSES", "requested_key", "entry_label", "list_rows", "readable_lines", "diff_lines"]

WRAP_WIDTH = 100  # description text is broken into lines this wide, so a diff shows the sentence that changed
HELD_STATUSES = ("held", "held-new", "poisoned")  # statuses that await a person's review


def requested_key(tool: str) -> str:
    """The entry key a person means by ``tool``: ``instructions``, a tool name, or an explicit ``tool:NAME``."""
    if tool == INSTRUCTIONS:
        return INSTRUCTIONS
    return tool if tool.startswith(TOOL_PREFIX) else TOOL_PREFIX + tool


def entry_label(key: str) -> str:
    """How an entry is named to a person."""
    return "(instructions)" if key == INSTRUCTIONS else key[len(TOOL_PREFIX) :]


def list_rows(store: PinStore, server: str | None = None) -> list[dict]:
    """One row per pinned definition (of ``server``, or of every server); a server whose pin file cannot be
    read is one row with status ``error`` (the other servers are still listed)."""
    rows: list[dict] = []
    for s in [server] if server else store.servers():
        try:
            doc = store.load(s)
        except PinStoreError as exc:
            rows.append({"server": s, "tool": None, "status": "error", "error": str(exc)})
            continue
        for key, entry in sorted(doc["entries"].items()):
            if not isinstance(entry, dict):
                continue
            pending = entry.get("pending") or {}
            approved = entry.get("approved") or {}
            rows.append({
                "server": s,
                "tool": entry_label(key),
                "status": entry_status(entry),
                "pinned": approved.get("at"),
                "pinned_by": approved.get("by"),
                "changed": pending.get("at"),
                "findings": len(pending.get("findings") or []),
                "also_on": entry.get("also_on") or [],
            })  # fmt: skip
    return rows


def _wrap_text(text: str) -> list[str]:
    out: list[str] = []
    for para in "\n".join(visible(line) for line in text.split("\n")).split("\n"):
        out.extend(textwrap.wrap(para, WRAP_WIDTH, break_long_words=True, replace_whitespace=False) or [""])
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, str):  # quoted, with invisible characters as \uXXXX (escaped once, for the reader)
        return '"' + visible(v.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return json.dumps(v, ensure_ascii=False)


def readable_lines(value: Any, indent: str = "") -> list[str]:
    """A definition as indented ``key: value`` lines; long text wrapped; invisible characters made visible."""
    lines: list[str] = []
    if isinstance(value, dict):
        for k in sorted(value):
            v = value[k]
            label = visible(str(k))
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{indent}{label}:")
                lines.extend(readable_lines(v, indent + "  "))
            elif isinstance(v, str) and (len(v) > WRAP_WIDTH or "\n" in v):
                lines.append(f"{indent}{label}: |")
                lines.extend(indent + "  " + line for line in _wrap_text(v))
            else:
                lines.append(f"{indent}{label}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub = readable_lines(item, indent + "  ")
                lines.append(f"{indent}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{indent}- {_scalar(item)}")
    else:
        lines.extend(indent + line for line in _wrap_text(str(value)))
    return lines


def diff_lines(old: Any, new: Any) -> list[str]:
    """A unified diff of the readable forms: the approved definition (or none) against the offered one."""
    a = readable_lines(old) if old is not None else []
    b = readable_lines(new)
    return list(difflib.unified_diff(a, b, "approved", "offered", lineterm="", n=3))
