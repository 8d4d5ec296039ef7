"""Walking and rewriting the decoded string values of a JSON value, with their JSON paths.

Content interceptors look at what a peer will *read*: the decoded strings inside params and results, never the
raw JSON text (an escape such as ``\\u0040`` must not hide an ``@`` from a detector, and a detector must not
match across the boundary of two values). This module is the one place that knows which strings to skip:

- base64 payloads of binary content: ``data`` of ``image``/``audio`` content items and ``blob`` of embedded
  resources and ``resources/read`` contents. They are not text; scanning them only yields false positives.
- object keys are scanned as well as values (a secret can be smuggled as a key); :func:`map_strings` rewrites
  values only, keys are reported by :func:`iter_strings` with a ``<key>`` path element.

Paths are tuples of keys and indexes; :func:`json_path` renders them as ``$.content[0].text``.
Rewriting is copy-on-write: containers on the path of a change are copied, everything else is shared, and a
value with no change is returned as the very same object (callers compare with ``is``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["BINARY_ITEM_TYPES", "HOUSEKEEPING_METHODS", "iter_strings", "map_strings", "json_path", "content_roots", "MAX_DEPTH"]

BINARY_ITEM_TYPES = frozenset({"image", "audio"})
MAX_DEPTH = 256  # the strict decoder already refuses deeper input; this guards values built in-process

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _is_binary_field(container: dict, key: str) -> bool:
    if key == "blob":
        return True
    return key == "data" and container.get("type") in BINARY_ITEM_TYPES


def iter_strings(value: Any, path: tuple = (), *, keys: bool = False) -> Iterator[tuple[tuple, str]]:
    """Yield ``(path, string)`` for every string value (and, with ``keys``, every object key) inside ``value``."""
    stack: list[tuple[tuple, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        if isinstance(v, str):
            yield p, v
        elif isinstance(v, dict):
            if len(p) > MAX_DEPTH:
                continue
            items = list(v.items())
            for k, child in reversed(items):
                if isinstance(child, str):
                    if not _is_binary_field(v, k):
                        stack.append((p + (k,), child))
                elif isinstance(child, (dict, list)):
                    stack.append((p + (k,), child))
            if keys:
                for k, _ in reversed(items):
                    if isinstance(k, str) and len(k) > 3:
                        stack.append((p + (k, "<key>"), k))
        elif isinstance(v, list):
            if len(p) > MAX_DEPTH:
                continue
            for i in range(len(v) - 1, -1, -1):
                child = v[i]
                if isinstance(child, (str, dict, list)):
                    stack.append((p + (i,), child))


def map_strings(value: Any, fn: Callable[[tuple, str], str | None], path: tuple = ()) -> Any:
    """Return ``value`` with every string value ``s`` at path ``p`` replaced by ``fn(p, s)`` (None: keep).

    Binary fields are left alone. Unchanged subtrees are shared; an unchanged value is returned as is.
    """
    if isinstance(value, str):
        new = fn(path, value)
        return value if new is None else new
    if len(path) > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out: dict | None = None
        for k, child in value.items():
            if isinstance(child, str):
                if _is_binary_field(value, k):
                    continue
                new = fn(path + (k,), child)
                if new is None or new == child:
                    continue
            elif isinstance(child, (dict, list)):
                new = map_strings(child, fn, path + (k,))
                if new is child:
                    continue
            else:
                continue
            if out is None:
                out = dict(value)
            out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        lst: list | None = None
        for i, child in enumerate(value):
            if isinstance(child, (str, dict, list)):
                new = map_strings(child, fn, path + (i,))
                if new is child:
                    continue
                if lst is None:
                    lst = list(value)
                lst[i] = new
        return value if lst is None else lst
    return value


def json_path(path: tuple | list) -> str:
    """``("content", 0, "text")`` → ``$.content[0].text``; keys that are not identifiers are quoted."""
    out = ["$"]
    for part in path:
        if part == "<key>":
            out.append("<key>")
        elif isinstance(part, int):
            out.append(f"[{part}]")
        elif isinstance(part, str) and _IDENT.match(part):
            out.append(f".{part}")
        else:
            out.append("[" + repr(str(part)).replace("'", '"') + "]" if '"' not in str(part) else f"[{str(part)!r}]")
    return "".join(out)


# Messages whose strings are protocol housekeeping, not content a peer reads or acts on.
HOUSEKEEPING_METHODS = frozenset(
    {
        "initialize",
        "notifications/initialized",
        "server/discover",
        "ping",
        "notifications/cancelled",
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
        "notifications/roots/list_changed",
        "logging/setLevel",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
        "roots/list",
    }
)


def content_roots(envelope: dict) -> tuple[str, ...]:
    """The envelope keys that carry content: ``params`` of requests/notifications, ``result``/``error``."""
    return tuple(k for k in ("params", "result", "error") if isinstance(envelope.get(k), (dict, list, str)))
