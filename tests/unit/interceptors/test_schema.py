"""Schema validation: arguments against inputSchema, structured results against outputSchema, hostile schemas."""

from __future__ import annotations

import socket

import pytest
from content_factories import call, config, result, session
from factories import make_interceptor
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._message import Action
from mcpwrap.interceptors import schema as schema_mod
from mcpwrap.interceptors.schema import SchemaInterceptor, UnusableSchema, compile_schema

SUM = {
    "name": "get-sum",
    "inputSchema": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
}
WEATHER = {
    "name": "weather",
    "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "outputSchema": {"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]},
}


def interceptor(tool_list, **section):
    sess = session(tools=tool_list)
    return make_interceptor(SchemaInterceptor, sess, config(schema=section)["schema"]), sess


def test_valid_call_passes():
    icpt, sess = interceptor([SUM])
    assert icpt.inspect(call(sess, "get-sum", {"a": 1, "b": 2})) is None


def test_violations_are_listed_with_json_paths():
    icpt, sess = interceptor([SUM])
    v = icpt.inspect(call(sess, "get-sum", {"a": "one"}))
    assert v.action is Action.BLOCK and v.rule == "schema-input"
    assert "$.arguments.a: 'one' is not of type 'number'" in v.reason
    assert "$.arguments: 'b' is a required property" in v.reason
    assert v.details["count"] == 2


def test_nested_paths_use_indexes():
    tool = {"name": "t", "inputSchema": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}}}}
    icpt, sess = interceptor([tool])
    v = icpt.inspect(call(sess, "t", {"items": [1, "x", 3]}))
    assert "$.arguments.items[1]" in v.reason


@pytest.mark.parametrize("strict, expected", [(False, None), (True, Action.BLOCK)])
def test_strict_rejects_unknown_properties(strict, expected):
    icpt, sess = interceptor([SUM], strict=strict)
    v = icpt.inspect(call(sess, "get-sum", {"a": 1, "b": 2, "c": 3}))
    assert (v.action if v else None) is expected
    if v:
        assert "'c' was unexpected" in v.reason


@pytest.mark.parametrize("setting, expected", [("pass", None), ("block", Action.BLOCK)])
def test_unknown_tool_is_configurable(setting, expected):
    icpt, sess = interceptor([SUM], unknown_tool=setting)
    v = icpt.inspect(call(sess, "never-listed", {}))
    assert (v.action if v else None) is expected


def test_per_tool_override_turns_validation_off():
    icpt, sess = interceptor([SUM], tools={"get-sum": {"enabled": False}})
    assert icpt.inspect(call(sess, "get-sum", {"a": "x"})) is None


def test_per_server_override_applies_to_that_server_only():
    icpt, sess = interceptor([SUM], servers={"other": {"enabled": False}})
    assert icpt.inspect(call(sess, "get-sum", {"a": "x"})).action is Action.BLOCK


def test_audit_mode_records_without_enforcing():
    icpt, sess = interceptor([SUM], mode="audit")
    v = icpt.inspect(call(sess, "get-sum", {}))
    assert v.action is Action.BLOCK and v.enforce is False


def test_each_schema_is_compiled_once_and_recompiled_after_list_changed():
    icpt, sess = interceptor([SUM])
    for i in range(5):
        icpt.inspect(call(sess, "get-sum", {"a": i, "b": i}, msg_id=i))
    assert icpt.compiled == 1
    sess.tools.forget()
    sess.tools.record_page([SUM], first_page=True, last_page=True)
    icpt.inspect(call(sess, "get-sum", {"a": 1, "b": 2}))
    assert icpt.compiled == 1  # same schema content: the compiled validator is reused
    changed = {**SUM, "inputSchema": {**SUM["inputSchema"], "required": ["a"]}}
    sess.tools.forget()
    sess.tools.record_page([changed], first_page=True, last_page=True)
    assert icpt.inspect(call(sess, "get-sum", {"a": 1})) is None
    assert icpt.compiled == 2


def test_draft07_dialect_is_honoured():
    # In draft-07, "items" as an array means tuple validation; 2020-12 would reject that form.
    tool = {"name": "t", "inputSchema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                                          "properties": {"p": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}}}}
    icpt, sess = interceptor([tool])
    assert icpt.inspect(call(sess, "t", {"p": ["a", 1]})) is None
    assert "$.arguments.p[1]" in icpt.inspect(call(sess, "t", {"p": ["a", "b"]})).reason


def test_output_schema_warns_by_default_and_can_block():
    icpt, sess = interceptor([WEATHER])
    bad = result(sess, "tools/call", {"content": [], "structuredContent": {"temp": "hot"}}, tool="weather")
    v = icpt.inspect(bad)
    assert v.action is Action.PASS and v.rule == "schema-output" and "$.structuredContent.temp" in v.reason
    icpt, sess = interceptor([WEATHER], output="block")
    bad = result(sess, "tools/call", {"content": [], "structuredContent": {}}, tool="weather")
    assert icpt.inspect(bad).action is Action.BLOCK
    good = result(sess, "tools/call", {"content": [], "structuredContent": {"temp": 3}}, tool="weather")
    assert icpt.inspect(good) is None


def test_missing_structured_content_is_reported():
    icpt, sess = interceptor([WEATHER], output="block")
    v = icpt.inspect(result(sess, "tools/call", {"content": [{"type": "text", "text": "3"}]}, tool="weather"))
    assert v.action is Action.BLOCK and "structuredContent: missing" in v.reason


# --- hostile schemas ---------------------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_remote_ref_is_never_fetched(no_network):
    tool = {"name": "t", "inputSchema": {"type": "object", "properties": {"x": {"$ref": "https://evil.example/schema.json"}}}}
    icpt, sess = interceptor([tool])
    v = icpt.inspect(call(sess, "t", {"x": 1}))
    assert v.action is Action.BLOCK and "does not fetch" in v.reason


def test_file_ref_is_never_read(no_network):
    tool = {"name": "t", "inputSchema": {"$ref": "file:///etc/passwd"}}
    icpt, sess = interceptor([tool])
    v = icpt.inspect(call(sess, "t", {}))
    assert v.action is Action.BLOCK and "does not fetch" in v.reason


def test_catastrophic_pattern_does_not_hang():
    tool = {"name": "t", "inputSchema": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}}
    icpt, sess = interceptor([tool])
    v = icpt.inspect(call(sess, "t", {"s": "a" * 5000 + "!"}))  # backtracking engines take forever here
    assert v.action is Action.BLOCK and "does not match" in v.reason


def test_self_recursive_schema_against_deep_instance():
    tool = {"name": "t", "inputSchema": {"type": "object", "properties": {"n": {"$ref": "#"}}}}
    icpt, sess = interceptor([tool])
    deep: dict = {}
    for _ in range(400):
        deep = {"n": deep}
    v = icpt.inspect(call(sess, "t", deep))
    assert v is None or v.action is Action.BLOCK  # either validated or refused, never an exception


@pytest.mark.parametrize(
    "bad, why",
    [
        ({"type": "object", "properties": {"x": {"type": "not-a-type"}}}, "invalid"),
        ({"$schema": "https://example.com/my-dialect", "type": "object"}, "dialect"),
        ({"type": "object", "description": "x" * (schema_mod.MAX_SCHEMA_BYTES + 10)}, "bytes"),
    ],
)
def test_unusable_schemas_are_reported_not_raised(bad, why):
    with pytest.raises(UnusableSchema, match=why):
        compile_schema(bad)


def test_deep_schema_is_unusable_and_policy_decides():
    deep: dict = {"type": "object"}
    for _ in range(schema_mod.MAX_SCHEMA_DEPTH + 5):
        deep = {"type": "object", "properties": {"x": deep}}
    tool = {"name": "t", "inputSchema": deep}
    icpt, sess = interceptor([tool])
    v = icpt.inspect(call(sess, "t", {}))
    assert v.action is Action.PASS and v.rule == "schema-unusable"
    icpt, sess = interceptor([tool], invalid_schema="block")
    assert icpt.inspect(call(sess, "t", {})).action is Action.BLOCK


def test_jsonschema_is_imported_lazily():
    import subprocess
    import sys

    code = (
        "import sys; from mcpwrap._message import Session; "
        "from mcpwrap.interceptors import build_chain, load_policy; "
        "build_chain(load_policy(None), Session('s','x')); "
        "print('jsonschema' in sys.modules, 'mcpwrap.detect.injection' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# --- the direct check of the common subset ------------------------------------------------------------------------

_NAMES = st.sampled_from(["path", "n", "flag", "x", "mode"])
_PROPERTY = st.one_of(
    st.just(True),
    st.just({}),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])}, optional={"description": st.just("d")}
    ),
    st.fixed_dictionaries({"type": st.just("string"), "enum": st.just(["a"])}),  # outside the subset: jsonschema decides
)
_SCHEMAS = st.fixed_dictionaries(
    {"type": st.just("object")},
    optional={
        "properties": st.dictionaries(_NAMES, _PROPERTY, max_size=4),
        "required": st.lists(_NAMES, max_size=3, unique=True),
        "additionalProperties": st.booleans(),
        "$schema": st.sampled_from(
            ["https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#"]
        ),
    },
)
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)  # fmt: skip
_INSTANCES = st.one_of(st.dictionaries(_NAMES, _VALUES, max_size=5), _VALUES)


@settings(max_examples=2000, deadline=None)
@given(schema=_SCHEMAS, strict=st.booleans(), data=st.data())
def test_the_direct_check_accepts_only_what_jsonschema_accepts(schema, strict, data):
    from mcpwrap.interceptors.schema import fast_check

    # Instances built from the schema's own names (each present or not, any value) and from anything at all.
    names = list(schema.get("properties", {})) + schema.get("required", [])
    own = st.fixed_dictionaries({}, optional={n: _VALUES for n in names}).flatmap(
        lambda d: st.dictionaries(_NAMES, _VALUES, max_size=2).map(lambda extra: {**extra, **d})
    )
    instance = data.draw(st.one_of(own, _INSTANCES))
    try:
        validator = compile_schema(schema, strict=strict)
    except UnusableSchema:  # e.g. draft 4's "required" needs one name at least: the interceptor reports it
        return
    check = fast_check(validator.schema)
    if check is not None and check(instance):
        assert list(validator.iter_errors(instance)) == [], (schema, instance)


def test_the_direct_check_covers_the_common_shape():
    from mcpwrap.interceptors.schema import fast_check

    properties = {"path": {"type": "string", "description": "p"}, "n": {"type": "integer"}}
    schema = {"type": "object", "properties": properties, "required": ["path"], "additionalProperties": False}
    check = fast_check(schema)
    assert check is not None
    assert check({"path": "a", "n": 3}) and check({"path": "a"})
    assert not check({"n": 3}) and not check({"path": 1}) and not check({"path": "a", "n": True}) and not check({"path": "a", "z": 1})
    assert fast_check({"type": "object", "properties": {"p": {"type": "string", "pattern": "^a"}}}) is None
    assert fast_check({"type": "object", "$ref": "#/$defs/x"}) is None


@pytest.mark.parametrize("kind", ["string", "integer", "number", "boolean", "null", "array", "object"])
@pytest.mark.parametrize("dialect", [None, "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-04/schema#"])
def test_the_direct_type_checks_agree_with_jsonschema_on_every_kind_of_value(kind, dialect):
    from mcpwrap.interceptors.schema import fast_check

    schema = {"type": "object", "properties": {"v": {"type": kind}}, "required": ["v"]}
    if dialect:
        schema["$schema"] = dialect
    validator = compile_schema(schema)
    check = fast_check(validator.schema)
    for value in (True, False, 0, 1, -1, 2**70, 1.0, 1.5, -0.0, "", "s", None, [], [1], {}, {"a": 1}):
        if check is not None and check({"v": value}):
            assert list(validator.iter_errors({"v": value})) == [], (kind, value)
