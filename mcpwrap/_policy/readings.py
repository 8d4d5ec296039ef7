"""How a rule reads a call's arguments: the values at a dot path, their readings, and what is not known.

Values are compared in several *readings* (see :mod:`mcpwrap._policy.normalize`):

- :func:`deny_readings` — for **deny** and **approve** rules, which match when *any* reading of *any* element
  matches: the raw string, its NFKC form without invisible characters, the normalised path, and for arrays and
  objects also their JSON text (so a spelling trick can make a deny rule fire);
- :func:`allow_groups` — for **allow** rules, which match only when *every* element's canonical readings (as
  sent and as seen, paths normalised) match: one group per element, every reading of a group must match (so a
  spelling trick can never make an allow rule fire);
- :func:`wild_readings` — the argument ``"*"``: every value anywhere and every key.

``null`` reads as ``""`` (how mcpgw compares it) and as ``"null"`` (its JSON text). Arrays on the way down a
dot path are entered element by element; a missing argument has no readings.

When the arguments are not known (``policy test --replay``, ``tools/list`` filtering) a condition is neither
true nor false but :data:`MAYBE` — unless the audit record's *shape* of the arguments (:class:`Unknown`) shows
that the key it needs is absent. The audit log's default form, ``redacted``, is :class:`Recorded`: every value
it holds is the value the server received, except the strings in which the secrets redactor replaced
something (``[REDACTED:<type>]``) — a condition is decided on the values that are known, and is MAYBE only
when its answer could depend on a redacted one.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from .hosts import host_readings
from .normalize import clean_text, could_be_relative_path, is_path_like, normalize_path, stringify

__all__ = [
    "MAYBE", "Unknown", "UNKNOWN", "Recorded", "REDACTED_MARK", "has_redaction",
    "resolve", "shape_presence", "deny_readings", "wild_readings", "allow_groups",
]  # fmt: skip

SHAPE_MAX_KEYS = 50  # keys of one object that the audit log's argument shape keeps (mcpwrap._audit.writer)
# What the secrets redactor writes in place of what it removed (mcpwrap.detect.secrets.placeholder; a test
# holds the two equal): a string holding it is not the string the server received.
REDACTED_MARK = "[REDACTED:"


class _Maybe:
    """The third truth value: depends on what is not known (arguments in replay, a tool's risk)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MAYBE"

    def __bool__(self) -> bool:  # pragma: no cover - guard against two-valued use
        raise TypeError("MAYBE has no truth value")


MAYBE: Any = _Maybe()


class Unknown:
    """Arguments that are not known. ``shape`` (the audit log's form: types and sizes) still tells which
    keys exist, so a condition on an absent key is decidably false."""

    __slots__ = ("shape",)

    def __init__(self, shape: Any = None) -> None:
        self.shape = shape


UNKNOWN = Unknown()


def has_redaction(value: Any) -> bool:
    """Whether a recorded value holds a redacted string or key anywhere."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if REDACTED_MARK in v:
                return True
        elif isinstance(v, dict):
            for k, item in v.items():
                if isinstance(k, str) and REDACTED_MARK in k:
                    return True
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
    return False


class Recorded(Unknown):
    """Arguments as the audit log keeps them in its ``redacted`` form: known, except where redacted."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        super().__init__(None)
        self.value = value


def _resolve(value: Any, keys: tuple | None) -> list:
    if keys is None:
        return [value]
    out: list = []
    stack = [(value, 0)]
    while stack:
        v, i = stack.pop()
        if i == len(keys):
            out.append(v)
            continue
        if isinstance(v, list):
            stack.extend((e, i) for e in reversed(v))
        elif isinstance(v, dict) and keys[i] in v:
            stack.append((v[keys[i]], i + 1))
    return out


def resolve(args: Any, key: str, keys: tuple | None, cache: dict) -> list:
    """The values at dot path ``key`` (split: ``keys``; None for ``"*"``) of a call's arguments, computed once
    per decision and shared through ``cache`` by every condition on the same argument."""
    ck = ("v", key)
    values = cache.get(ck)
    if values is None:
        if args is None:
            values = []
        elif keys is None:
            values = [args]
        elif not isinstance(args, dict):
            values = []
        else:
            values = _resolve(args, keys)
            if len(keys) > 1 and key in args:  # an argument whose own name has a dot
                values = [args[key]] + values
        cache[ck] = values
    return values


def shape_presence(shape: Any, keys: tuple | None) -> Any:
    """With unknown arguments: False when the recorded shape shows the argument absent, else MAYBE."""
    if keys is None or not isinstance(shape, dict):
        return MAYBE
    v: Any = shape
    for k in keys:
        if isinstance(v, dict):
            if k not in v:
                return MAYBE if len(v) >= SHAPE_MAX_KEYS else False  # a key past the kept ones may exist
            v = v[k]
        else:
            return MAYBE
    return MAYBE


def _leaves(value: Any, out: list) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(v)


# A plain value: ASCII letters, digits, spaces and punctuation that no reading interprets (no '.', '/', '\\', '~',
# ':', '@', '%', '[', quotes, control characters). Such a value is its own clean form, is not path-like (no separator,
# no leading dot or tilde, no drive or scheme) and holds no host (hosts.py needs ':', '.', '[', a digit
# followed by 'x', or eight digits in a row — ruled out by _HOSTLIKE_DIGITS): its only reading is itself.
# Most arguments are such words and sentences; reading them costs one match instead of every reader.
_PLAIN = re.compile(r"[A-Za-z0-9 ,;!?()_\-+*#&=]*")  # no quotes: a shell reads r'm' as rm
_HOSTLIKE_DIGITS = re.compile(r"\d[xX]|\d{8}")


def _str_readings(s: str, out: list) -> None:
    out.append(s)
    if _PLAIN.fullmatch(s) is not None and _HOSTLIKE_DIGITS.search(s) is None:
        return
    _other_readings(s, out)


def _other_readings(s: str, out: list) -> None:
    """The readings of ``s`` other than ``s`` itself (appended after it), from every reader."""
    c = clean_text(s)
    if c != s:
        out.append(c)
    seen = [s, c] if c != s else [s]
    for x in list(seen):
        for v in _shell_and_url_readings(x):  # as a shell or a URL parser would read it
            if v not in seen:
                seen.append(v)
                if v not in out:
                    out.append(v)
    for x in seen:
        # As a path: resolved the way the server would open it. A bare relative value (".ssh/id_rsa") is
        # resolved against the working directory the server inherits, and still matched as written.
        if is_path_like(x) or could_be_relative_path(x):
            n = normalize_path(x)
            if n not in out:
                out.append(n)
        # As a host or URL: every spelling of an address reads as its canonical form.
        for h in host_readings(x):
            if h not in out:
                out.append(h)


MAX_GLOB_MATCHES = 32  # paths a shell glob in a value is expanded to (only one path component may hold wildcards)


def _shell_and_url_readings(x: str) -> list[str]:
    """Other texts a program may make of ``x``: percent-decoded (``%2F`` is ``/`` to a URL parser and to many
    tools), with shell quotes and backslash escapes removed (``.s''sh`` is ``.ssh`` to a shell), and each
    shell glob in it expanded the way the shell would, on this machine (``~/.ssh/i?_rsa``)."""
    found: list[str] = []
    if "%" in x:
        decoded = unquote(x)
        if decoded != x:
            found.append(decoded)
    for y in [x, *found]:
        if "'" in y or '"' in y or "\\" in y:
            unquoted = _SHELL_ESCAPE.sub(r"\1", y).replace("'", "").replace('"', "")
            if unquoted != y and unquoted not in found:
                found.append(unquoted)
    for y in [x, *found]:
        if "/" in y and ("*" in y or "?" in y or "[" in y):
            for match in _glob_readings(y):
                if match not in found:
                    found.append(match)
    return found


_SHELL_ESCAPE = re.compile(r"\\(.)")


def _glob_readings(text: str) -> list[str]:
    """``text`` with each whitespace-separated word that is a one-wildcard-component path glob replaced by
    what it matches on this machine (one reading per match, at most MAX_GLOB_MATCHES)."""
    import glob
    import itertools
    import os

    out: list[str] = []
    words = text.split()
    for i, word in enumerate(words):
        if "/" not in word or not any(ch in word for ch in "*?["):
            continue
        parts = os.path.expanduser(word).split("/")
        if sum(1 for p in parts if any(ch in p for ch in "*?[")) != 1:
            continue  # more than one wildcard directory level: not expanded (a walk of the file system)
        pattern = "/".join(parts)
        for match in itertools.islice(glob.iglob(pattern), MAX_GLOB_MATCHES):
            out.append(" ".join([*words[:i], match, *words[i + 1 :]]))
    return out


def deny_readings(value: Any, out: list) -> None:
    """Append every reading of ``value`` (and of each leaf, for arrays and objects) to ``out``."""
    if isinstance(value, str):
        _str_readings(value, out)
    elif isinstance(value, (dict, list)):
        out.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
        leaves: list = []
        _leaves(value, leaves)
        for leaf in leaves:
            deny_readings(leaf, out)
    elif value is None:
        out.extend(_NULL_READINGS)
    else:
        out.append(stringify(value))


# null reads as "" (how mcpgw compares it) and as "null" (its JSON text); an allow rule needs "null".
_NULL_READINGS = ("", "null")


def wild_readings(value: Any, out: list) -> None:
    """``"*"``: every value anywhere, and every key (a payload can hide in a key as well as in a value)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, item in v.items():
                _str_readings(k, out)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            _str_readings(v, out)
        elif v is None:
            out.extend(_NULL_READINGS)
        else:
            out.append(stringify(v))


def _canonical(s: str) -> list[str]:
    """The readings an allow rule must all accept: as sent and as seen, paths normalised, hosts canonical."""
    c = clean_text(s)
    forms = [normalize_path(s) if is_path_like(s) else s]
    if c != s:
        cc = normalize_path(c) if is_path_like(c) else c
        if cc != forms[0]:
            forms.append(cc)
    for x in (s, c) if c != s else (s,):
        for h in host_readings(x, urls_only=True):
            if h not in forms:
                forms.append(h)
    return forms


def allow_groups(value: Any, groups: list) -> None:
    """Append one group of canonical readings per leaf of ``value`` to ``groups``."""
    if isinstance(value, str):
        groups.append(_canonical(value))
    elif isinstance(value, (dict, list)):
        leaves: list = []
        _leaves(value, leaves)
        if not leaves:
            groups.append([json.dumps(value, ensure_ascii=False, separators=(",", ":"))])
        for leaf in leaves:
            allow_groups(leaf, groups)
    elif value is None:
        groups.append(["null"])
    else:
        groups.append([stringify(value)])
