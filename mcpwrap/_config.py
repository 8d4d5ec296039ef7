"""How the one YAML policy file is loaded and validated.

The policy file is one YAML mapping. Each top-level key is a :class:`Section` declared by the concern that
uses it (the policy rules, audit, secrets, …: each interceptor class lists its sections), so a key's meaning
and its validation live in one place. The composition root (:mod:`mcpwrap.interceptors`) hands the sections of
the chain it builds to :func:`load_config`; this module knows none of them. Loading is strict: unknown keys,
wrong types and YAML duplicate keys are errors, reported with file, line and column (:class:`ConfigError`
carries the key path; the loader turns it into a position using the YAML node marks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import ConfigError, UnsafeFileError
from ._fs import read_file
from ._paths import home

__all__ = [
    "Section",
    "Sections",
    "sections_by_key",
    "Config",
    "load_config",
    "load_section",
    "parse_config",
    "read_yaml",
    "locate",
    "expect",
    "check_keys",
    "BUILTIN_POLICY_NAME",
    "builtin_policy_text",
]


@dataclass(frozen=True)
class Section:
    """A top-level key of the policy file: ``parse(raw, path)`` returns the typed value or raises ConfigError;
    ``default()`` is the value when the key is absent."""

    key: str
    parse: Callable[[Any, tuple], Any]
    default: Callable[[], Any]
    doc: str = ""


Sections = Mapping[str, Section]


def sections_by_key(sections: Iterable[Section]) -> dict[str, Section]:
    """Index sections by key; two concerns claiming one key is a programming error."""
    out: dict[str, Section] = {}
    for s in sections:
        if s.key in out and out[s.key] is not s:
            raise RuntimeError(f"policy section {s.key!r} is declared twice")
        out[s.key] = s
    return out


@dataclass
class Config:
    """A loaded policy file: one typed value per section (defaults for absent keys)."""

    values: dict[str, Any] = field(default_factory=dict)
    sections: Sections = field(default_factory=dict)
    source: str | None = None  # file path, or None for the built-in default
    raw: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        if key not in self.values:
            self.values[key] = self.sections[key].default()
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


# --- typed access helpers used by section parsers ---------------------------------------------------------------


def expect(value: Any, types: type | tuple, path: tuple, what: str | None = None) -> Any:
    """Return ``value`` if it has one of ``types``; else raise a ConfigError naming the expectation."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = what or " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        names = names.replace("dict", "mapping").replace("list", "list").replace("str", "string")
        raise ConfigError(f"expected {names}, got {_type_name(value)}", path=path)
    return value


def check_keys(mapping: Mapping[Any, Any], allowed: Collection[str] | Mapping[str, Any], path: tuple) -> None:
    for key in mapping:
        if key not in allowed:
            hint = ", ".join(sorted(allowed))
            raise ConfigError(f"unknown key {key!r} (expected one of: {hint})", path=path + (key,))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__
    )


# --- YAML with positions ---------------------------------------------------------------------------------------


def read_yaml(text: str, file: str) -> tuple[Any, dict[tuple, tuple[int, int]]]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"not valid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    positions: dict[tuple, tuple[int, int]] = {}
    constructor = yaml.SafeLoader("")
    seen: set[int] = set()

    def build(n: Any, path: tuple) -> Any:
        # An alias makes one node appear at many places: nested aliases grow a short file exponentially (a
        # few lines of them would hang every wrapper on reload). A policy never needs them: refuse.
        if id(n) in seen:
            raise ConfigError(
                "YAML anchors and aliases are not supported in a policy file; write the value out",
                file=file, line=n.start_mark.line + 1, column=n.start_mark.column + 1,
            )
        seen.add(id(n))
        positions[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict = {}
            constructor.flatten_mapping(n)
            for knode, vnode in n.value:
                key = constructor.construct_object(knode, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    raise ConfigError("mapping keys must be scalars", file=file, line=knode.start_mark.line + 1, column=knode.start_mark.column + 1)
                if key in out:
                    raise ConfigError(
                        f"duplicate key {key!r}", file=file, line=knode.start_mark.line + 1, column=knode.start_mark.column + 1
                    )
                positions[path + (key, "<key>")] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                out[key] = build(vnode, path + (key,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,)) for i, v in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    if node is None:
        return {}, positions
    return build(node, ()), positions


def locate(error: ConfigError, positions: dict[tuple, tuple[int, int]], file: str | None) -> ConfigError:
    """Attach file, line and column to an error raised with a key path.

    An unknown key points at the key itself; any other error at the deepest node of its path that exists.
    """
    error.file = error.file or file
    if error.line is not None:
        return error
    path = error.path
    pos = positions.get(path + ("<key>",)) if error.message.startswith("unknown key") else None
    for i in range(len(path), -1, -1):
        if pos is not None:
            break
        pos = positions.get(path[:i])
    if pos:
        error.line, error.column = pos
    return error


def parse_config(raw: Any, sections: Sections, *, file: str | None = None, positions: dict | None = None) -> Config:
    """Validate a decoded policy document section by section."""
    positions = positions or {}
    try:
        if raw is None:
            raw = {}
        expect(raw, dict, (), "a mapping of policy sections")
        check_keys(raw, sections, ())
        values = {key: sections[key].parse(value, (key,)) for key, value in raw.items()}
    except ConfigError as exc:
        raise locate(exc, positions, file) from None
    return Config(values=values, sections=sections, source=file, raw=raw)


def load_config(path: str | os.PathLike | None, sections: Sections) -> Config:
    """Load a policy file, or the built-in default (``mcpwrap/default_policy.yaml``) when ``path`` is None."""
    if path is None:
        config = parse_config(builtin_policy_value(), sections, file=BUILTIN_POLICY_NAME, positions={})
        config.source = None
        return config
    p = Path(path)
    text = read_policy_text(p)
    raw, positions = read_yaml(text, str(p))
    return parse_config(raw, sections, file=str(p), positions=positions)


def read_policy_text(path: str | os.PathLike) -> str:
    """A policy file's text. One under ``MCPWRAP_HOME`` is opened like every file there
    (:func:`mcpwrap._fs.read_file`: no link followed, the user's own, not writable by others); a policy named
    explicitly elsewhere is read as it is (a project may keep it in its repository)."""
    p = os.fspath(path)
    try:
        if _under_home(p):
            return read_file(p, what="policy file").decode("utf-8")
        return Path(p).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("policy file not found", file=p) from None
    except UnsafeFileError as exc:
        raise ConfigError(str(exc), file=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read policy file: {exc}", file=p) from None


def _under_home(path: str) -> bool:
    root = os.path.abspath(home())
    return os.path.abspath(path).startswith(root + os.sep)


def load_section(path: str | os.PathLike | None, section: Section) -> Any:
    """One section of a policy file (its default when absent), without validating the others.

    For readers that need one fact of a policy — where its audit log is, how approvals wait — and must not
    depend on every concern that declares a section.
    """
    if path is None:
        text, file = builtin_policy_text(), BUILTIN_POLICY_NAME
    else:
        file = os.fspath(path)
        text = read_policy_text(file)
    raw, positions = read_yaml(text, file)
    if raw is None or (isinstance(raw, dict) and section.key not in raw):
        return section.default()
    try:
        expect(raw, dict, (), "a mapping of policy sections")
        return section.parse(raw[section.key], (section.key,))
    except ConfigError as exc:
        raise locate(exc, positions, file) from None


BUILTIN_POLICY_NAME = "<built-in default policy>"


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def builtin_policy_text() -> str:
    """The packaged default policy (what ``mcpwrap policy init`` writes)."""
    try:  # beside this module in every install (importlib.resources costs `wrap` ~9 ms of imports)
        with open(os.path.join(_PACKAGE_DIR, "default_policy.yaml"), encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:  # pragma: no cover - a package loaded from an archive
        from importlib.resources import files

        return files("mcpwrap").joinpath("default_policy.yaml").read_text(encoding="utf-8")


def builtin_policy_value() -> Any:
    """The packaged default policy, decoded. Read from ``default_policy.json``, its twin (a unit test holds the
    two equal), so that `wrap` without a policy file never imports or runs the YAML parser (~20 ms of its
    start-up); from the YAML when the twin is missing."""
    import json

    try:
        with open(os.path.join(_PACKAGE_DIR, "default_policy.json"), "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:  # pragma: no cover - a package loaded from an archive
        return read_yaml(builtin_policy_text(), BUILTIN_POLICY_NAME)[0]
