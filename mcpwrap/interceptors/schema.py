"""JSON Schema validation of tool-call arguments (``inputSchema``) and structured results (``outputSchema``).

The schemas come from ``msg.session.tools``, the catalog the relay fills from ``tools/list`` results (across
pagination, forgotten on ``notifications/tools/list_changed``). Each schema is compiled once: validators are
cached by a hash of the schema's canonical JSON, and the (tool, catalog generation) → validator mapping is
cached in front of that, so a call costs one dict lookup plus the validation itself.

A server's schema is untrusted input, so compiling and validating are fenced:

- the dialect is the one the schema declares in ``$schema`` (2020-12 when none; draft-07, 2019-09, draft-06,
  draft-04 and draft-03 are known); an unknown dialect or an invalid schema makes the schema *unusable*;
- schemas above :data:`MAX_SCHEMA_BYTES` or nesting deeper than :data:`MAX_SCHEMA_DEPTH` are unusable;
- ``$ref`` resolution goes through a ``referencing`` registry whose retrieval always fails: no file or
  network access, ever; an unresolvable reference is reported as such;
- ``pattern``/``patternProperties`` use the linear-time RE2 engine (a hostile ``(a+)+$`` cannot hang the
  relay); a pattern RE2 cannot express is skipped rather than run with a backtracking engine;
- a ``RecursionError`` while validating (a self-referencing schema against a deep instance) is caught.

What an unusable schema means is the policy's choice (``invalid_schema: pass | block``). ``jsonschema`` is
imported lazily, when the first schema is compiled: it costs ~150 ms and ``wrap`` start-up is benchmarked.

A violation blocks the call with the block contract's ``isError`` result listing each violation with its
JSON path, so the model can correct its call. ``strict: true`` also rejects properties the schema does not
declare (``additionalProperties: false`` is added to object schemas with ``properties``, outside
combinators).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .._chain import ChainContext
from .._config import Section
from .._message import Direction, Kind, Message, Verdict
from .._strings import json_path
from ._scoped import Scoped, ScopedInterceptor, boolean, choice, parse_scoped

__all__ = ["SchemaInterceptor", "MAX_SCHEMA_BYTES", "MAX_SCHEMA_DEPTH", "MAX_VIOLATIONS"]

MAX_SCHEMA_BYTES = 512 * 1024  # a tool's schema larger than this is not compiled (real ones are a few KB)
MAX_SCHEMA_DEPTH = 64  # nesting of a schema document beyond which it is not compiled
MAX_VIOLATIONS = 20  # listed in one answer; more are counted
MAX_CACHED_VALIDATORS = 1024

_DIALECTS = {
    None: "Draft202012Validator",
    "https://json-schema.org/draft/2020-12/schema": "Draft202012Validator",
    "https://json-schema.org/draft/2019-09/schema": "Draft201909Validator",
    "http://json-schema.org/draft-07/schema": "Draft7Validator",
    "http://json-schema.org/draft-06/schema": "Draft6Validator",
    "http://json-schema.org/draft-04/schema": "Draft4Validator",
    "http://json-schema.org/draft-03/schema": "Draft3Validator",
}


def _defaults() -> dict:
    return {
        "enabled": True,
        "mode": "enforce",
        "strict": False,
        "unknown_tool": "pass",
        "output": "warn",
        "invalid_schema": "pass",
    }


_FIELDS = {
    "enabled": boolean,
    "mode": choice("enforce", "audit"),
    "strict": boolean,
    "unknown_tool": choice("pass", "block"),
    "output": choice("off", "warn", "block"),
    "invalid_schema": choice("pass", "block"),
}


def _parse_schema(raw: Any, path: tuple) -> Scoped:
    return parse_scoped(raw, path, _FIELDS, _defaults)


class UnusableSchema(Exception):
    """A server's schema that cannot be compiled safely (too large, too deep, invalid, unknown dialect)."""


# --- compiling ---------------------------------------------------------------------------------------------------


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        v, d = stack.pop()
        if d > limit:
            return d
        deepest = max(deepest, d)
        if isinstance(v, dict):
            stack.extend((c, d + 1) for c in v.values() if isinstance(c, (dict, list)))
        elif isinstance(v, list):
            stack.extend((c, d + 1) for c in v if isinstance(c, (dict, list)))
    return deepest


def _strictify(schema: Any) -> Any:
    """Add ``additionalProperties: false`` to object schemas that list properties (not inside combinators)."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if isinstance(out.get("properties"), dict):
        if not any(k in out for k in ("additionalProperties", "patternProperties", "unevaluatedProperties", "allOf", "anyOf", "oneOf", "$ref")):
            out["additionalProperties"] = False
        out["properties"] = {k: _strictify(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _strictify(out["items"])
    return out


_jsonschema: Any = None


def _lib() -> Any:
    """Import jsonschema and build the fenced validator classes, once."""
    global _jsonschema
    if _jsonschema is not None:
        return _jsonschema
    import jsonschema
    import referencing
    import referencing.exceptions
    from jsonschema import validators

    from .._re2 import RegexError, compile_regex

    def refuse(uri: str) -> Any:
        # Never fetch a schema: no network access, no file access, whatever the server's schema says.
        raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class

    registry: Any = referencing.Registry(retrieve=refuse)  # type: ignore[call-arg]

    _patterns: dict[str, Any] = {}

    def _compiled(p: str) -> Any:
        if p not in _patterns:
            try:
                _patterns[p] = compile_regex(p)
            except RegexError:  # RE2 cannot express it (look-around, back-references): not checked
                _patterns[p] = None
            if len(_patterns) > 4096:
                _patterns.clear()
        return _patterns[p]

    def pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Any:
        if not isinstance(instance, str) or not isinstance(patrn, str):
            return
        rx = _compiled(patrn)
        if rx is not None and rx.search(instance) is None:
            shown = instance if len(instance) <= 60 else instance[:57] + "..."
            yield jsonschema.ValidationError(f"{shown!r} does not match {patrn!r}")

    def pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Any:
        if not isinstance(instance, dict) or not isinstance(patterns, dict):
            return
        for p, subschema in patterns.items():
            rx = _compiled(p) if isinstance(p, str) else None
            if rx is None:
                continue
            for k, v in instance.items():
                if rx.search(k):
                    yield from validator.descend(v, subschema, path=k, schema_path=p)

    overrides = {"pattern": pattern, "patternProperties": pattern_properties}

    classes = {}
    for uri, cls_name in _DIALECTS.items():
        base = getattr(jsonschema, cls_name)
        classes[uri] = validators.extend(base, overrides)
    _jsonschema = (jsonschema, registry, classes, referencing)
    return _jsonschema


def compile_schema(schema: Any, *, strict: bool = False) -> Any:
    """A validator for ``schema`` (a dict); raises :class:`UnusableSchema`."""
    if schema is True or schema == {}:
        schema = {}
    if not isinstance(schema, dict):
        raise UnusableSchema("the schema is not an object")
    size = len(json.dumps(schema, separators=(",", ":"), default=str))
    if size > MAX_SCHEMA_BYTES:
        raise UnusableSchema(f"the schema is {size} bytes, over the limit of {MAX_SCHEMA_BYTES}")
    if _depth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
        raise UnusableSchema(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
    jsonschema, registry, classes, _referencing = _lib()
    dialect = schema.get("$schema")
    if isinstance(dialect, str):
        dialect = dialect.rstrip("#")
    cls = classes.get(dialect)
    if cls is None:
        raise UnusableSchema(f"unknown JSON Schema dialect {schema.get('$schema')!r}")
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UnusableSchema(f"the schema is invalid: {exc.message}") from None
    except RecursionError:
        raise UnusableSchema("the schema is too deeply recursive to check") from None
    if strict:
        schema = _strictify(schema)
    try:
        return cls(schema, registry=registry)
    except Exception as exc:  # a resource the registry rejects ($id collisions, bad anchors)
        raise UnusableSchema(f"the schema cannot be used: {type(exc).__name__}: {exc}") from None


# --- the common subset, checked directly -------------------------------------------------------------------------
#
# Most tools declare an object of named primitive properties: ``{"type": "object", "properties": {"path":
# {"type": "string"}}, "required": ["path"], "additionalProperties": false}``. jsonschema takes ~40 us to
# validate a one-property call; a direct check of that shape takes ~2. The direct check only ever *accepts*:
# when it cannot say the instance is valid (or the schema is outside the subset) jsonschema decides, so every
# refusal and every message is jsonschema's. A differential property test holds it to that.

_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment", "$schema"})
_OBJECT_KEYS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_PROPERTY_KEYS = _ANNOTATIONS | {"type"}
# Dialects whose "required" is a list of names and whose types below mean what the checks say (draft 3 has
# "required": true inside properties; draft 4 reads 1.0 as an integer differently).
_FAST_DIALECTS = frozenset({None, "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2019-09/schema",
                            "http://json-schema.org/draft-07/schema", "http://json-schema.org/draft-06/schema"})
_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: v is True or v is False,
    "integer": lambda v: type(v) is int,  # 1.0 is an integer too: not decided here (jsonschema decides)
    "number": lambda v: type(v) is int or type(v) is float,
    "null": lambda v: v is None,
}
_ANY = None  # a property whose value may be anything
_UNLISTED = object()


def fast_check(schema: Any) -> Any:
    """For a schema in the common subset, a function ``(instance) -> bool`` that returns True only for an
    instance the schema accepts (False: not certain, validate fully); None for any other schema."""
    if not isinstance(schema, dict) or not _OBJECT_KEYS.issuperset(schema):
        return None
    dialect = schema.get("$schema")
    if (dialect.rstrip("#") if isinstance(dialect, str) else dialect) not in _FAST_DIALECTS:
        return None
    if schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list) or not isinstance(additional, bool):
        return None
    if not all(isinstance(r, str) for r in required):
        return None
    checks: dict[str, Any] = {}
    for name, sub in properties.items():
        if sub is True:
            checks[name] = _ANY
            continue
        if not isinstance(sub, dict) or not _PROPERTY_KEYS.issuperset(sub):
            return None
        kind = sub.get("type")
        if kind is None:
            checks[name] = _ANY
        elif isinstance(kind, str) and kind in _TYPE_CHECKS:
            checks[name] = _TYPE_CHECKS[kind]
        else:
            return None
    required_names = tuple(required)

    def check(instance: Any) -> bool:
        if type(instance) is not dict:
            return False
        for name in required_names:
            if name not in instance:
                return False
        for key, value in instance.items():
            test = checks.get(key, _UNLISTED)
            if test is _UNLISTED:
                if not additional:
                    return False
            elif test is not _ANY and not test(value):
                return False
        return True

    return check


def violations(validator: Any, instance: Any, root: tuple = ()) -> tuple[list[str], int]:
    """``(["$.path: message", …], total)`` — at most :data:`MAX_VIOLATIONS` listed."""
    jsonschema, _registry, _classes, referencing = _lib()
    out: list[str] = []
    total = 0
    try:
        errors = validator.iter_errors(instance)
        for err in errors:
            total += 1
            if len(out) < MAX_VIOLATIONS:
                out.append(f"{json_path(root + tuple(err.absolute_path))}: {_short(err.message)}")
            if total >= 10 * MAX_VIOLATIONS:
                break
    except referencing.exceptions.Unresolvable as exc:
        out.append(f"{json_path(root)}: the schema refers to {getattr(exc, 'ref', '?')!r}, which mcpwrap does not fetch")
        total += 1
    except RecursionError:
        out.append(f"{json_path(root)}: the value nests too deeply to validate against this schema")
        total += 1
    return out, total


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "…"


# --- the interceptor ---------------------------------------------------------------------------------------------


SCHEMA_SECTION = Section(
    "schema", _parse_schema, default=lambda: parse_scoped({}, ("schema",), _FIELDS, _defaults), doc="JSON Schema validation of tool calls and results"
)


class SchemaInterceptor(ScopedInterceptor):
    name = "schema"
    section = SCHEMA_SECTION
    sections = (SCHEMA_SECTION,)

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        # schema hash, strict → (validator or UnusableSchema, its fast_check or None)
        self._by_hash: dict[tuple[str, bool], tuple[Any, Any]] = {}
        self._by_tool: dict[tuple, tuple[Any, Any]] = {}  # (generation, tool, which, strict) → same
        self.compiled = 0  # how many schemas were compiled (tests check the cache)

    def _compiled(self, tool: str, which: str, schema: Any, strict: bool) -> tuple[Any, Any]:
        key = (self.session.tools.generation, tool, which, strict)
        hit = self._by_tool.get(key)
        if hit is not None:
            return hit
        digest = hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
        hkey = (digest, strict)
        entry = self._by_hash.get(hkey)
        if entry is None:
            try:
                compiled = compile_schema(schema, strict=strict)
                entry = (compiled, fast_check(compiled.schema))  # the schema the validator uses (strictified)
            except UnusableSchema as exc:
                entry = (exc, None)
            self.compiled += 1
            if len(self._by_hash) >= MAX_CACHED_VALIDATORS:
                self._by_hash.clear()
            self._by_hash[hkey] = entry
        if len(self._by_tool) >= MAX_CACHED_VALIDATORS:
            self._by_tool.clear()
        self._by_tool[key] = entry
        return entry

    def inspect(self, msg: Message) -> Verdict | None:
        if msg.method != "tools/call":
            return None
        if msg.kind is Kind.REQUEST and msg.direction is Direction.CLIENT_TO_SERVER:
            return self._check_call(msg)
        if msg.kind is Kind.RESULT and msg.direction is Direction.SERVER_TO_CLIENT:
            return self._check_result(msg)
        return None

    def _check_call(self, msg: Message) -> Verdict | None:
        tool = msg.tool_name
        if tool is None:
            return None
        s = self.settings.resolve(self.session.server, tool)
        if not s["enabled"]:
            return None
        enforce = s["mode"] == "enforce"
        definition = self.session.tools.get(tool)
        if definition is None:
            if s["unknown_tool"] == "block":
                return Verdict.block(
                    f"tool {tool!r} was not listed by the server (no tools/list result names it), so its arguments cannot be validated",
                    rule="schema-unknown-tool",
                    enforce=enforce,
                )
            return None
        schema = definition.get("inputSchema")
        if schema is None:
            return None
        validator, fast = self._compiled(tool, "input", schema, s["strict"])
        if isinstance(validator, UnusableSchema):
            if s["invalid_schema"] == "block":
                return Verdict.block(f"the inputSchema of tool {tool!r} cannot be used: {validator}", rule="schema-unusable", enforce=enforce)
            return Verdict.allow(rule="schema-unusable", reason=f"inputSchema of {tool!r} not checked: {validator}")
        params = msg.params if isinstance(msg.params, dict) else {}
        arguments = params.get("arguments", {})
        if fast is not None and fast(arguments):
            return None
        found, total = violations(validator, arguments, ("arguments",))
        if not found:
            return None
        more = f"\n(and {total - len(found)} more)" if total > len(found) else ""
        reason = (
            f"the arguments of tool {tool!r} do not match its inputSchema ({total} violation{'s' if total != 1 else ''}); "
            "fix these and call again:\n" + "\n".join(f"- {v}" for v in found) + more
        )
        return Verdict.block(reason, rule="schema-input", enforce=enforce, details={"violations": found, "count": total})

    def _check_result(self, msg: Message) -> Verdict | None:
        tool = msg.tool_name
        result = msg.result
        if tool is None or not isinstance(result, dict) or result.get("isError") is True:
            return None
        s = self.settings.resolve(self.session.server, tool)
        if not s["enabled"] or s["output"] == "off":
            return None
        definition = self.session.tools.get(tool)
        schema = definition.get("outputSchema") if definition else None
        if schema is None:
            return None
        if "structuredContent" not in result:
            found, total = ["$.structuredContent: missing, but the tool declares an outputSchema"], 1
        else:
            validator, fast = self._compiled(tool, "output", schema, False)
            if isinstance(validator, UnusableSchema):
                return Verdict.allow(rule="schema-unusable", reason=f"outputSchema of {tool!r} not checked: {validator}")
            if fast is not None and fast(result["structuredContent"]):
                return None
            found, total = violations(validator, result["structuredContent"], ("structuredContent",))
        if not found:
            return None
        reason = f"the structured result of tool {tool!r} does not match its outputSchema:\n" + "\n".join(f"- {v}" for v in found)
        details = {"violations": found, "count": total}
        if s["output"] == "block":
            return Verdict.block(reason, rule="schema-output", enforce=s["mode"] == "enforce", details=details)
        return Verdict.allow(rule="schema-output", reason=reason, details=details)
