from __future__ import annotations

import json

import pytest
from factories import notification, request, response, session, tool_call

from mcpwrap._errors import ProtocolError
from mcpwrap._message import Action, Verdict
from mcpwrap._relay import jsonrpc as rpc


@pytest.mark.parametrize(
    "line, code, words",
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}', rpc.INVALID_REQUEST, "appears twice"),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"p":"/tmp","p":"/etc"}}}', rpc.INVALID_REQUEST, "appears twice"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[{"k":1,"k":2}]}}', rpc.INVALID_REQUEST, "appears twice"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"v":NaN}}', rpc.PARSE_ERROR, "not valid JSON"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"v":Infinity}}', rpc.PARSE_ERROR, "not valid JSON"),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', rpc.PARSE_ERROR, "UTF-8"),
        (b'\xef\xbb\xbf{"jsonrpc":"2.0","id":1,"method":"x"}', rpc.PARSE_ERROR, "byte-order mark"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x"', rpc.PARSE_ERROR, "not valid JSON"),
        (b'{"jsonrpc":"2.0","id":1,"method":"x"} trailing', rpc.PARSE_ERROR, "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, rpc.PARSE_ERROR, "nests too deeply"),
    ],
)
def test_decode_refuses_what_two_parsers_could_read_differently(line, code, words):
    with pytest.raises(ProtocolError) as err:
        rpc.decode(line)
    assert err.value.code == code
    assert words in str(err.value)


def test_escaped_duplicate_keys_are_caught_after_unescaping():
    # "\u006eame" is "name": a textual comparison of keys would miss it.
    with pytest.raises(ProtocolError):
        rpc.decode(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","\\u006eame":"evil"}}')


@pytest.mark.parametrize(
    "value, ok",
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "x"}, True),
        ({"jsonrpc": "2.0", "method": "x"}, True),
        ({"jsonrpc": "2.0", "id": "a", "result": {}}, True),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "m"}}, True),
        ([], False),
        ("text", False),
        ({"id": 1, "method": "x"}, False),
        ({"jsonrpc": "1.0", "id": 1, "method": "x"}, False),
        ({"jsonrpc": "2.0", "id": None, "method": "x"}, False),
        ({"jsonrpc": "2.0", "id": True, "method": "x"}, False),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "x"}, False),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, False),
        ({"jsonrpc": "2.0", "id": 1, "method": "x", "result": {}}, False),
        ({"jsonrpc": "2.0", "id": 1, "method": "x", "params": "s"}, False),
        ({"jsonrpc": "2.0", "result": {}}, False),
        ({"jsonrpc": "2.0", "id": 1}, False),
        ({"jsonrpc": "2.0", "id": 1, "result": {}, "error": {}}, False),
    ],
)
def test_check_envelope(value, ok):
    if ok:
        rpc.check_envelope(value)
    else:
        with pytest.raises(ProtocolError):
            rpc.check_envelope(value)


@pytest.mark.parametrize(
    "line, expected",
    [
        (b'{"jsonrpc":"2.0","id":7,"method":"x","params":{"a":', 7),
        (b'{"jsonrpc":"2.0","id":"req-1","method":"x","params":{"a":\xff', "req-1"),
        (b'{"method":"x","params":{"id":3,"s":"\\"id\\": 9"},"jsonrpc":"2.0","id":42}', 42),
        (b'{"method":"tools/call","params":{"name":"a","a":"' + b"z" * 200_000 + b'"},"jsonrpc":"2.0","id":5}', 5),
        (b'{"params":{"id":3},', None),
        (b"not json at all", None),
        (b'{"jsonrpc":"2.0","id":-12,"method":"x"', -12),
    ],
)
def test_recover_id(line, expected):
    assert rpc.recover_id(line) == expected


def test_blocked_tools_call_gets_an_is_error_result_with_the_decision():
    msg = tool_call("exec", {"cmd": "rm -rf /"}, id=9)
    verdict = Verdict.block("dangerous command", rule="no-rm", interceptor="policy")
    env = rpc.blocked_request_response(msg, verdict)
    assert env["id"] == 9 and "error" not in env
    result = env["result"]
    assert result["isError"] is True
    assert "dangerous command" in result["content"][0]["text"]
    assert result["_meta"]["mcpwrap"] == {"action": "block", "reason": "dangerous command", "rule": "no-rm", "interceptor": "policy"}
    assert "resultType" not in result


def test_blocked_tools_call_in_a_stateless_session_is_a_complete_result():
    msg = tool_call("exec", {}, id=1)
    msg.envelope["params"]["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    env = rpc.blocked_request_response(msg, Verdict.block("no"))
    assert env["result"]["resultType"] == "complete"


def test_other_blocked_requests_get_a_json_rpc_error_with_data():
    env = rpc.blocked_request_response(request("resources/read", {"uri": "file:///x"}, id="r"), Verdict.block("nope", rule="r1", interceptor="policy"))
    assert env["id"] == "r"
    assert env["error"]["code"] == rpc.BLOCKED
    assert env["error"]["data"]["mcpwrap"]["rule"] == "r1"


def test_withheld_tool_result_is_replaced_by_an_is_error_result_for_the_same_id():
    msg = response({"content": [{"type": "text", "text": "secret"}]}, to="tools/call", params={"name": "read"}, id=4)
    env = rpc.blocked_response_replacement(msg, Verdict.block("injection", rule="inj", interceptor="injection"))
    assert env["id"] == 4 and env["result"]["isError"] is True
    assert "secret" not in json.dumps(env)


def test_withheld_other_response_is_replaced_by_an_error():
    msg = response({"contents": []}, to="resources/read", id=4)
    env = rpc.blocked_response_replacement(msg, Verdict.block("x"))
    assert env["error"]["code"] == rpc.BLOCKED


def test_retry_after_reaches_text_and_meta():
    v = Verdict.block("rate limited", rule="rl", retry_after=2.5)
    env = rpc.blocked_request_response(tool_call("t"), v)
    assert env["result"]["_meta"]["mcpwrap"]["retryAfter"] == 2.5
    assert "retry after 2.5 s" in env["result"]["content"][0]["text"]


def test_modified_message_says_what_changed_in_meta():
    msg = response({"content": [], "_meta": {"keep": 1}})
    msg.changes.append({"interceptor": "secrets", "redacted": {"email": 1}})
    env = rpc.annotate_modified(msg)
    assert env["result"]["_meta"]["keep"] == 1
    assert env["result"]["_meta"]["mcpwrap"] == {"action": "modify", "changes": [{"interceptor": "secrets", "redacted": {"email": 1}}]}


def test_encode_is_one_compact_line():
    data = rpc.encode({"a": "é\n"})
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert json.loads(data) == {"a": "é\n"}


def test_notification_kind_and_tool_name():
    n = notification("notifications/progress", {"progressToken": 1, "progress": 1})
    assert n.kind.value == "notification" and n.tool_name is None
    r = tool_call("echo")
    assert r.tool_name == "echo" and r.is_request
    assert session().tools.get("x") is None
    assert Action.BLOCK.value == "block"


# --- the fast decoder agrees with the reference decoder --------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_keys = st.text(alphabet=st.sampled_from('ab"\\:{}, \u00e9\u2028'), min_size=0, max_size=4)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False), _keys)
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)), max_leaves=20)


def _serialise_with_duplicates(value, dup: bool) -> str:
    """JSON text of ``value``; with ``dup`` every object of 1+ keys repeats its first key."""
    if isinstance(value, dict):
        items = [f"{json.dumps(k)}:{_serialise_with_duplicates(v, dup)}" for k, v in value.items()]
        if dup and value:
            k, v = next(iter(value.items()))
            items.append(f"{json.dumps(k)} : {_serialise_with_duplicates(v, dup)}")
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_serialise_with_duplicates(v, dup) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=500, deadline=None)
@given(value=_json, dup=st.booleans(), ascii_only=st.booleans())
def test_fast_decode_refuses_exactly_what_the_reference_refuses(value, dup, ascii_only):
    text = _serialise_with_duplicates(value, dup)
    if ascii_only:
        text = json.dumps(json.loads(text), ensure_ascii=True) if not dup else text
    line = text.encode("utf-8")
    try:
        expected = rpc._reference_decode(line)
    except ProtocolError as err:
        with pytest.raises(ProtocolError) as got:
            rpc.decode(line)
        assert got.value.code == err.code
    else:
        assert rpc.decode(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        b'{"a":"x\\\\","a":1}',  # escaped backslash before a closing quote
        b'{"a\\"":1,"a\\"":2}',  # escaped quotes inside the repeated key
        b'{"k":{"a":1},"k":{"b":"\\""}}',
        b'{"a":1,"\\u0061":2}',  # the same key spelled with an escape
        b'{"x":[{"a":1,"a":1}]}',
    ],
)
def test_fast_decode_catches_tricky_duplicates(line):
    with pytest.raises(ProtocolError) as err:
        rpc.decode(line)
    assert err.value.code == rpc.INVALID_REQUEST


# --- what the decoder accepts, every later stage can carry (issue 16: items 4, 5, 7) ---------------------------

from mcpwrap._audit.writer import _dumps as audit_dumps  # noqa: E402
from mcpwrap._protocol import MAX_DEPTH  # noqa: E402
from mcpwrap._strings import iter_strings, map_strings  # noqa: E402
from mcpwrap.detect.secrets import redact_json  # noqa: E402


@pytest.mark.parametrize(
    "escape",
    ["\\udc00", "\\uD800", "\\udbff", "\\ude00\\ud83d", "\\ud83d\\ud83d", "\\ud83dx", "x\\udfff"],
    ids=["low", "high-upper-case", "high-last", "reversed-pair", "two-highs", "high-then-text", "text-then-low"],
)
@pytest.mark.parametrize("where", ["id", "value", "key", "deep-value", "after-escaped-backslash"])
def test_lone_surrogates_are_refused_on_every_decoding_path(escape, where):
    lines = {
        "id": b'{"jsonrpc":"2.0","id":"%s","method":"ping"}',
        "value": b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s"}}',
        "key": b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"%s":1}}}',
        "deep-value": b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[[[{"b":"%s"}]]]}}',
        # an escaped backslash sends the line to the stdlib decoder (the fast path cannot vouch for it)
        "after-escaped-backslash": b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"C:\\\\\\\\dir","q":"%s"}}',
    }
    line = lines[where] % escape.encode()
    with pytest.raises(ProtocolError) as err:
        rpc.decode(line)
    assert err.value.code == rpc.PARSE_ERROR and "surrogate" in str(err.value)
    with pytest.raises(ProtocolError):
        rpc._reference_decode(line)


def test_a_surrogate_pair_is_one_character_and_accepted():
    assert rpc.decode(b'{"a":"\\ud83d\\ude00","b":"\\\\udc00"}') == {"a": "\U0001f600", "b": "\\udc00"}


@pytest.mark.parametrize(
    "number",
    [b"1e999", b"-1e999", b"1E+400", b"-0.5e309", b"1" + b"0" * 309, b"-" + b"9" * 400, b"17976931348623159" + b"0" * 292],
)
def test_non_finite_numbers_are_refused_on_every_decoding_path(number):
    for line in (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"v":%s}}' % number,
                 b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"\\\\","v":[%s]}}' % number):
        with pytest.raises(ProtocolError) as err:
            rpc.decode(line)
        assert err.value.code == rpc.PARSE_ERROR and "not finite" in str(err.value)


def test_the_largest_finite_numbers_and_underflow_are_accepted():
    assert rpc.decode(b'{"v":[1.7976931348623157e308,-1e308,1e-999,179769313486231570' + b"0" * 291 + b"]}")["v"][2] == 0.0


def _nest(depth: int, inner: bytes = b'"x"') -> bytes:
    return b'{"a":' * (depth - 1) + b"[" + inner + b"]" + b"}" * (depth - 1)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, MAX_DEPTH + 40, 1000, 1025])
@pytest.mark.parametrize("slow_path", [False, True])
def test_messages_deeper_than_max_depth_are_refused_at_decode(depth, slow_path):
    line = _nest(depth, b'"\\\\"' if slow_path else b'"x"')
    with pytest.raises(ProtocolError) as err:
        rpc.decode(line)
    assert err.value.code == rpc.PARSE_ERROR and str(MAX_DEPTH) in str(err.value)


def test_the_depth_the_decoder_accepts_is_the_depth_the_walkers_reach():
    value = rpc.decode(_nest(MAX_DEPTH, b'"AKIAZ7QW3ERT5YUI2OPA"'))
    strings = list(iter_strings(value, keys=True))
    assert [s for _, s in strings if s.startswith("AKIA")] == ["AKIAZ7QW3ERT5YUI2OPA"]
    assert "AKIA" not in json.dumps(redact_json(value)[0])
    assert map_strings(value, lambda p, s: "y") != value
    audit_dumps({"event": "x", "arguments": value})  # the audit writer serialises it
    # one level more cannot come from the decoder; a walker refuses it instead of stopping short in silence
    deeper = {"a": value}
    with pytest.raises(ValueError):
        list(iter_strings(deeper))
    with pytest.raises(ValueError):
        map_strings(deeper, lambda p, s: "y")


_ESCAPES = st.integers(0, 0xFFFF).map(lambda cp: f"\\u{cp:04x}")
_RAW = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\'), max_size=3)
_STRING = st.lists(st.one_of(_ESCAPES, _RAW, st.sampled_from(["\\\\", '\\"', "\\n", "\\/"])), max_size=6).map(lambda parts: '"' + "".join(parts) + '"')
_NUMBER = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-420, 420)),
    st.integers(300, 420).map(lambda n: "9" * n),
)
_SCALAR = st.one_of(_STRING, _NUMBER, st.sampled_from(["true", "false", "null"]))
_TEXT = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(_STRING, inner), max_size=3).map(lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"),
        st.tuples(st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3), inner).map(lambda d: "[" * d[0] + d[1] + "]" * d[0]),
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None)
@given(params=_TEXT, msg_id=st.one_of(_STRING, _NUMBER))
def test_no_message_the_decoder_accepts_makes_encode_or_the_audit_writer_fail(params, msg_id):
    line = ('{"jsonrpc":"2.0","id":' + msg_id + ',"method":"tools/call","params":{"name":"t","arguments":' + params + "}}").encode()
    try:
        value = rpc.decode(line)
    except ProtocolError:
        return
    assert rpc.decode(rpc.encode(value)) == value  # re-encoding a modified message never fails, never changes it
    audit_dumps({"event": "message", "id": value["id"], "arguments": value["params"]["arguments"]})
    list(iter_strings(value, keys=True))  # every string is reachable by the scanners
    redact_json(value["params"])


_ENCODABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()  # NaN and infinities included: encode must refuse them
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12),  # surrogates too
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)  # mcpwrap's own answers may hold tuples
    | st.dictionaries(st.text(max_size=6) | st.integers(0, 9), inner, max_size=4),
    max_leaves=15,
)


def _stdlib(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


@settings(max_examples=1500, deadline=None)
@given(value=_ENCODABLE)
def test_encode_writes_the_stdlib_bytes_or_refuses_what_it_refuses(value):
    try:
        expected = _stdlib(value)
    except (ValueError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            rpc.encode(value)
        return
    assert rpc.encode(value) == expected


@pytest.mark.parametrize("value", [{"x": 1e16}, {"x": 1e-7}, {"n": 2**70}, {1: "int key"}, {"s": "\ud800"}, {"a": None}, {"t": "x\u2028\x7f\x00\b"}])
def test_encode_matches_the_stdlib_on_the_forms_that_differ(value):
    try:
        expected = _stdlib(value)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            rpc.encode(value)
        return
    assert rpc.encode(value) == expected


def test_encode_refuses_nan_and_infinity():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError):
            rpc.encode({"result": {"x": bad}})
