"""The span-keeping JSON parser and the surgical edits built on it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._clients.jsonedit import (
    ArrayLayout,
    Edit,
    JsonSyntaxError,
    apply_edits,
    array_layout,
    insert_member,
    parse,
    remove_member,
    render,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 2, 4, "\t"]))
def test_parse_agrees_with_json_and_spans_cover_each_value(value, indent):
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    root = parse(text)
    assert root.value == value

    def check(node):
        assert json.loads(text[node.start : node.end]) == node.value
        for m in node.members or ():
            assert json.loads(text[m.start : m.node.start].rstrip().rstrip(":")) == m.key
            check(m.node)
        for item in node.items or ():
            check(item)

    check(root)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("{", "expected a string key"),
        ('{"a": 1,}', "expected a string key"),
        ('{"a": 1} x', "unexpected text"),
        ('{"a": NaN}', "NaN"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a" 1}', "expected ':'"),
        ('{"a": [1 2]}', "expected ',' or ']'"),
        ('{"a": "\u0001"}', "Invalid control character"),
    ],
)
def test_invalid_documents_are_refused_with_a_position(text, message):
    with pytest.raises(JsonSyntaxError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith("line 1 column ")


def test_jsonc_comments_and_trailing_commas_only_when_asked():
    text = '{\n  // servers\n  "servers": {"a": {"command": "x", /* note */ "args": ["1",],},},\n}\n'
    with pytest.raises(JsonSyntaxError):
        parse(text)
    root = parse(text, jsonc=True)
    assert root.value == {"servers": {"a": {"command": "x", "args": ["1"]}}}


def test_containers_outside_descend_are_not_walked_but_still_decoded():
    text = '{"keep": {"deep": [1, {"x": 2}]}, "walk": {"a": [1]}}'
    root = parse(text, lambda path: path in ((), ("walk",), ("walk", "a")))
    assert root.member("keep").node.members is None
    assert root.member("keep").node.value == {"deep": [1, {"x": 2}]}
    assert root.member("walk").node.member("a").node.items is not None


def test_apply_edits_replaces_only_the_spans():
    text = '{"a":  1, "b": [ 2 ]}'
    root = parse(text)
    b = root.member("b").node
    out = apply_edits(text, [Edit(b.start, b.end, "[3]")])
    assert out == '{"a":  1, "b": [3]}'
    with pytest.raises(ValueError):
        apply_edits(text, [Edit(0, 5, ""), Edit(3, 6, "")])


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ["x", "y"]}',
        '{"a": ["x","y"]}',
        '{\n    "a": [\n        "x",\n        "y"\n    ]\n}',
        '{\n\t"a": [\n\t\t"x"\n\t]\n}',
    ],
)
def test_array_layout_reproduces_the_original_array(text):
    node = parse(text).member("a").node
    layout = array_layout(text, node, fallback=ArrayLayout(False))
    assert layout.render(node.value) == text[node.start : node.end]


def test_insert_then_remove_member_is_the_identity_in_each_style():
    for text in ['{"a": 1}', '{"a": 1,"b": 2}', json.dumps({"a": 1, "b": {"c": 2}}, indent=2), "{}"]:
        root = parse(text)
        inserted = apply_edits(text, [insert_member(text, root, "new", {"k": [1, 2]})])
        assert json.loads(inserted) == {**json.loads(text), "new": {"k": [1, 2]}}
        again = parse(inserted)
        assert apply_edits(inserted, [remove_member(inserted, again, again.member("new"))]) == text


def test_insert_member_follows_the_object_indentation():
    text = json.dumps({"x": {"a": 1}}, indent=4) + "\n"
    root = parse(text)
    obj = root.member("x").node
    out = apply_edits(text, [insert_member(text, obj, "b", [1])])
    assert out == json.dumps({"x": {"a": 1, "b": [1]}}, indent=4) + "\n"


def test_render_escapes_like_json_stringify():
    assert render("é\n\"\\\u2028", indent=None) == '"é\\n\\"\\\\\u2028"'
    assert render({"a": [1, {"b": []}]}, indent="  ") == json.dumps({"a": [1, {"b": []}]}, indent=2)
