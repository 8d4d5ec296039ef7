"""The overrides store: ``$MCPWRAP_HOME/policy.overrides.yaml``, rules a person decided, kept apart from the policy.

A person's "remember always" answer to an approval prompt becomes an ``allow`` rule here
(:func:`override_rule`), so the decision outlives the session without anyone editing the policy file. The file
is written in the policy's own rule format and its rules are evaluated before the policy file's::

    version: v1
    rules:
      - name: remembered-files-write-1a2b3c4d
        action: allow
        match:
          exact: {server: files, tool: write, subject: alice, arguments: {path: /tmp/a}, digest: "sha256:…"}

Design and invariants
- This module is the only reader and the only writer of the file. Both validate with the policy's own rule
  parser (:func:`mcpwrap._policy.rules.parse_rules`): :func:`load_rules` raises a ConfigError with file, line
  and column for an unreadable or invalid file, so a wrapper keeps its previous policy rather than run without
  a rule a person wrote (fail closed); :func:`add_rule` validates the new rule before it touches the file and
  refuses to rewrite a file it cannot read.
- :func:`add_rule` is a read-modify-write under an exclusive lock on ``policy.overrides.yaml.lock``
  (:func:`mcpwrap._fs.locked`), and replaces the file atomically (:func:`mcpwrap._fs.atomic_write`),
  owner-only (0600): wrappers of several servers remembering at once never lose each other's rules, and a
  reader never sees a torn file.
- A rule is added, or replaced in place by name (keeping the order of evaluation); adding a rule that is
  already there unchanged does not rewrite the file, so running wrappers, which reload when the file changes,
  are not reloaded for nothing.
- A remembered approval is an ``exact`` rule (:mod:`mcpwrap._policy.exact`): it matches the call the person was
  shown — literal server, tool and subject, the whole arguments object by its canonical digest — and nothing
  else. The arguments are written out in full, so the file says what it allows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._config import check_keys, expect, locate, read_yaml
from .._errors import ConfigError, UnsafeFileError
from .._fs import atomic_write, ensure_dir, locked, read_file
from .._paths import overrides_path
from .._policy.exact import arguments_digest
from .._policy.rules import Rule, parse_rules
from .._policy.sections import parse_version

__all__ = ["SOURCE", "FILE_HEADER", "load_rules", "add_rule", "stamp", "override_rule"]

SOURCE = "overrides file"  # how its rules are named in errors (e.g. a name the policy file uses too)
FILE_HEADER = """\
# mcpwrap policy overrides: rules a person decided (an approval answered "remember always" adds one).
# Same format as the policy's rules; checked before them. `mcpwrap policy validate` checks this file.
# Delete a rule to be asked again.
"""
_NAME_PART_CHARS = 40  # of a server or tool name in a remembered rule's name


def _path(path: str | os.PathLike | None) -> Path:
    return Path(path) if path is not None else overrides_path()


def stamp(path: str | os.PathLike | None = None) -> tuple | None:
    """What changes when the file changes (mtime, size, inode); None when there is no file."""
    try:
        st = os.stat(_path(path))
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(p: Path, errors: list | None) -> tuple[list, tuple[Rule, ...]]:
    """The file's rules as written and compiled; ([], ()) when there is no file."""
    try:
        text = read_file(p, what="overrides file").decode("utf-8")
    except FileNotFoundError:
        return [], ()
    except UnsafeFileError as exc:  # its rules allow calls: a link or a file others can write is not the user's word
        raise ConfigError(str(exc), file=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read overrides file: {exc}", file=str(p)) from None
    raw, positions = read_yaml(text, str(p))
    try:
        if raw is None or raw == {}:
            return [], ()
        expect(raw, dict, (), "mapping with a rules list")
        check_keys(raw, {"version", "rules"}, ())
        if "version" in raw:
            parse_version(raw["version"], ("version",))
        written = raw.get("rules") or []
        collected: list | None = [] if errors is not None else None
        rules = parse_rules(written, ("rules",), errors=collected, source=SOURCE)
        if collected:
            errors.extend(locate(e, positions, str(p)) for e in collected)  # type: ignore[union-attr]
        return written, rules
    except ConfigError as exc:
        raise locate(exc, positions, str(p)) from None


def load_rules(path: str | os.PathLike | None = None, *, errors: list | None = None) -> tuple[Rule, ...]:
    """The compiled rules of the overrides file (none if it does not exist).

    An unreadable or invalid file raises a :class:`ConfigError` (fail closed). With ``errors`` given, the
    errors of individual rules are collected there instead (``policy validate`` reports every one).
    """
    return _read(_path(path), errors)[1]


def add_rule(rule: dict, path: str | os.PathLike | None = None) -> Path:
    """Add ``rule`` to the overrides file, or replace the rule of the same name in place; returns the path.

    Raises :class:`ConfigError` when the rule is invalid, when the existing file is (it is left as it is), or
    when the file cannot be written. Running wrappers notice the change and reload.
    """
    Rule(rule, 0, ("rule",), SOURCE)  # validate before touching the file
    p = _path(path)
    try:
        ensure_dir(p.parent, what="overrides file")
        with locked(p.with_name(p.name + ".lock")):
            written, _ = _read(p, None)  # refuse to build on a file the policy could not load
            rules = list(written)
            name = str(rule["name"])
            at = next((i for i, r in enumerate(rules) if str(r["name"]) == name), None)
            if at is None:
                rules.append(rule)
            elif rules[at] == rule:
                return p
            else:
                rules[at] = rule
            text = FILE_HEADER + _dump({"version": "v1", "rules": rules})
            atomic_write(p, text)
    except OSError as exc:
        raise ConfigError(f"cannot write overrides file: {exc.strerror or exc}", file=str(p)) from None
    return p


def _dump(doc: dict) -> str:
    import yaml

    # ASCII only: a value holding a bidirectional override or an invisible character is written as an escape,
    # so a person reading the file sees what a rule allows (and nothing can reorder the lines around it).
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, default_flow_style=False)


# --- the rule that remembers one approval ------------------------------------------------------------------------


def _name_part(text: str) -> str:
    """A readable, safe piece of a rule name (the name is a label: the ``exact`` condition does the matching)."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in text)
    return kept[:_NAME_PART_CHARS] or "_"


def override_rule(*, server: str, tool: str, arguments: Any, subject: str | None = None) -> dict:
    """The ``allow`` rule that remembers an approval of exactly this call (:mod:`mcpwrap._policy.exact`).

    Server, tool and subject are literals and the whole arguments object is pinned by its canonical digest,
    so a call with one more, one less or one different argument, another tool or another server is not
    matched. The arguments are written out for people to read. Raises ValueError when they are not an object
    or would not read back from the file as the same value; the approval is then not remembered "always"
    rather than remembered as something else.
    """
    if arguments is not None and not isinstance(arguments, dict):
        raise ValueError("the call's arguments are not an object")
    digest = arguments_digest(arguments)  # ValueError for NaN/infinity
    try:
        import yaml

        round_trip = yaml.safe_load(_dump({"arguments": arguments}))["arguments"]
    except Exception as exc:  # e.g. a lone surrogate cannot be written as UTF-8
        raise ValueError(f"the arguments cannot be written to the overrides file: {exc}") from None
    if arguments_digest(round_trip) != digest:
        raise ValueError("the arguments would not read back from the overrides file as the same value")
    exact: dict = {"server": server, "tool": tool}
    if subject is not None:
        exact["subject"] = subject
    exact["arguments"] = arguments
    exact["digest"] = digest
    return {
        "name": f"remembered-{_name_part(server)}-{_name_part(tool)}-{digest[len('sha256:'):][:12]}",
        "action": "allow",
        "match": {"exact": exact},
    }
