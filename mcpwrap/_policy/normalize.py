"""Normalisation of the values policy rules compare: Unicode text, paths, and globs.

What a rule sees must be what the server executes (no parser differential), and a spelling that a person or
a model reads as the same must not slip past a deny rule. So a value is compared in several *readings*:

- as sent: the decoded JSON string (escapes already resolved by the JSON decoder);
- as seen: NFKC-normalised with invisible characters removed (zero-width joiners, bidi controls, soft
  hyphens, tag characters, variation selectors), so ``ｒｍ`` and ``r\u200bm`` read as ``rm``;
- as a path, for path-like values: ``file://`` URIs decoded, backslashes turned into slashes, ``~``
  expanded, ``.``/``..``/``//`` and trailing slashes removed, relative paths resolved against the working
  directory the server inherits.

Globs support ``*`` (any run of characters, ``/`` included) and ``?`` (one character), like mcpgw's, and
``[c]`` for a literal character (``[*]``, ``[?]``, ``[[]``, as fnmatch writes them); there is no other
character class, so ``[`` is otherwise literal. Matching never backtracks: literal
shapes use substring tests, everything else a linear-time RE2 automaton. There is no length cutoff.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from functools import lru_cache

from .._text import clean_text  # NFKC without invisible characters: the one table, shared with the detectors

__all__ = [
    "clean_text",
    "is_path_like",
    "could_be_relative_path",
    "normalize_path",
    "compile_glob",
    "glob_to_regex",
    "stringify",
]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_path_like(value: str) -> bool:
    """Whether a value may name a file: absolute, home-relative, dotted-relative, a file URI, or one whose
    spelling a path resolver would change (``..``, ``//``, ``./``, backslashes). Other URIs are not paths."""
    if not value:
        return False
    c = value[0]
    if c in "/\\~":
        return True
    if value.startswith("./") or value.startswith("../") or value in (".", ".."):
        return True
    if value[:5].lower() == "file:":
        return True
    if _DRIVE.match(value):
        return True
    if _SCHEME.match(value):  # http://, s3://, mailto: … are not local paths
        return False
    return "\\" in value or "//" in value or "/./" in value or "/.." in value or value.startswith(".\\")


def could_be_relative_path(value: str) -> bool:
    """Whether a server could open ``value`` as a path relative to its working directory although
    :func:`is_path_like` does not say so (``.ssh/id_rsa``, ``docs/x.md``): a directory separator or a leading dot,
    one line, no URL scheme. (A bare file name is not read as a path: it names a file of the working directory,
    which a rule about a directory's contents catches only if the server runs there.)"""
    return (
        0 < len(value) <= MAX_PATH_CHARS
        and ("/" in value or value[0] == "." or "\\" in value)
        and "\n" not in value
        and not _SCHEME.match(value)
        and not is_path_like(value)
    )


MAX_PATH_CHARS = 4096  # PATH_MAX: a longer value is not opened as a path


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def normalize_path(value: str, *, cwd: str | None = None) -> str:
    """The path a resolver would open for ``value`` (lexically: symlinks are not followed).

    ``file://host/p`` and ``file:///p`` → ``/p`` (percent-decoded); ``\\`` → ``/``; ``~`` and ``~/x`` → the
    home directory; ``.``, ``..``, repeated and trailing slashes removed; a relative path is resolved against
    ``cwd`` (default: the current directory, which the wrapped server inherits).
    """
    p = value
    if p[:5].lower() == "file:":
        from urllib.parse import unquote  # only file URIs need it; keeps `wrap` start-up lean

        rest = p[5:]
        if rest.startswith("//"):
            rest = rest[2:]
            slash = rest.find("/")
            rest = rest[slash:] if slash >= 0 else "/"  # drop the authority (localhost or empty)
        p = unquote(rest)
    p = p.replace("\\", "/")
    if p == "~" or p.startswith("~/"):
        p = _home() + p[1:]
    drive = ""
    if _DRIVE.match(p):
        drive, p = p[:2], p[2:]
    if not p.startswith("/") and not drive:
        p = (cwd if cwd is not None else os.getcwd()) + "/" + p
    p = posixpath.normpath(p)
    if p.startswith("//"):  # POSIX keeps a leading double slash; resolvers treat it as one
        p = "/" + p.lstrip("/")
    return drive + p


def stringify(value: object) -> str:
    """A scalar JSON value as text, the way mcpgw compares it (null → "", 3.0 → "3", true → "true")."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e18:
            return str(int(value))
        return format(value, "g")
    return str(value)


# --- globs -------------------------------------------------------------------------------------------------------


_STAR, _ONE = object(), object()


def _glob_tokens(pattern: str) -> list:
    """Literal characters, ``*`` and ``?``. ``[c]`` — one character in brackets — is that character taken
    literally (the fnmatch way to write a literal ``*``, ``?`` or ``[``); any other ``[`` is literal."""
    out: list = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "[" and i + 2 < n and pattern[i + 2] == "]":
            out.append(pattern[i + 1])
            i += 3
            continue
        out.append(_STAR if ch == "*" else _ONE if ch == "?" else ch)
        i += 1
    return out


def glob_to_regex(pattern: str) -> str:
    """An anchored RE2/Python regex for a glob (``*``, ``?`` and ``[c]``)."""
    out: list[str] = []
    for tok in _glob_tokens(pattern):
        if tok is _STAR:
            if not out or out[-1] != ".*":
                out.append(".*")
        elif tok is _ONE:
            out.append(".")
        else:
            out.append(re.escape(tok))
    return "(?s)^" + "".join(out) + "$"


def _always(_s: str) -> bool:
    return True


@lru_cache(maxsize=8192)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate for one glob. Compare casefolded strings with a casefolded pattern for case-insensitivity."""
    tokens = _glob_tokens(pattern)
    if _ONE not in tokens:
        parts: list[str] = [""]
        for tok in tokens:
            if tok is _STAR:
                parts.append("")
            else:
                parts[-1] += tok
        if len(parts) == 1:
            return parts[0].__eq__
        head, tail, middle = parts[0], parts[-1], [p for p in parts[1:-1] if p]
        if not head and not tail:
            if not middle:
                return _always
            if len(middle) == 1:
                return _contains(middle[0])
        elif not middle and not tail:
            return _starts(head)
        elif not middle and not head:
            return _ends(tail)
        return _segments_matcher(head, middle, tail)
    from .._re2 import compile_regex

    search = compile_regex(glob_to_regex(pattern), case_sensitive=True).search
    return lambda s: search(s) is not None


def _contains(piece: str) -> Callable[[str], bool]:
    return lambda s: piece in s


def _starts(head: str) -> Callable[[str], bool]:
    return lambda s: s.startswith(head)


def _ends(tail: str) -> Callable[[str], bool]:
    return lambda s: s.endswith(tail)


def _segments_matcher(head: str, middle: list[str], tail: str) -> Callable[[str], bool]:
    """``a*b*c``: prefix, suffix, and the middle pieces found left to right (greedy-leftmost is exact for
    ``*``-only globs), each with one linear substring search."""

    def match(s: str) -> bool:
        if len(s) < len(head) + len(tail) or not s.startswith(head) or not s.endswith(tail):
            return False
        pos, end = len(head), len(s) - len(tail)
        for piece in middle:
            i = s.find(piece, pos, end)
            if i < 0:
                return False
            pos = i + len(piece)
        return True

    return match
