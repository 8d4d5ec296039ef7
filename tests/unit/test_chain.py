from __future__ import annotations

import copy

import pytest
from factories import tool_call, tool_result
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._chain import NO_TEXT_KEYS, Chain, Interceptor, Outcome, has_no_text
from mcpwrap._message import Action, Direction, Verdict


class Recorder(Interceptor):
    def __init__(self, name, verdict=None, exc=None):
        self.name = name
        self.verdict = verdict
        self.exc = exc
        self.seen = []
        self.observed = []

    def inspect(self, msg):
        self.seen.append(copy.deepcopy(msg.envelope))
        if self.exc:
            raise self.exc
        return self.verdict() if callable(self.verdict) else self.verdict

    def observe(self, msg, outcome):
        self.observed.append(outcome.action)


def test_all_pass():
    a, b = Recorder("a"), Recorder("b")
    out = Chain([a, b]).run(tool_call("x"))
    assert out.action is Action.PASS and len(a.seen) == len(b.seen) == 1


def test_block_stops_the_chain_and_names_the_interceptor():
    a = Recorder("a", Verdict.block("no", rule="r"))
    b = Recorder("b")
    out = Chain([a, b]).run(tool_call("x"))
    assert out.action is Action.BLOCK and out.rule == "r" and out.decisive.interceptor == "a"
    assert b.seen == []


def test_an_interceptor_that_raises_blocks_fail_closed():
    a = Recorder("a", exc=ValueError("boom"))
    b = Recorder("b")
    out = Chain([a, b]).run(tool_call("x"))
    assert out.action is Action.BLOCK
    assert out.rule == "interceptor-error" and "boom" in out.reason and out.decisive.interceptor == "a"
    assert b.seen == []


def test_modify_hands_the_new_envelope_to_the_next_interceptor():
    msg = tool_result("hello")
    new = copy.deepcopy(msg.envelope)
    new["result"]["content"][0]["text"] = "changed"
    a = Recorder("a", Verdict.modify(new, {"replaced": 1}, rule="m"))
    b = Recorder("b")
    out = Chain([a, b]).run(msg)
    assert out.action is Action.MODIFY and msg.modified
    assert b.seen[0]["result"]["content"][0]["text"] == "changed"
    assert msg.changes == [{"interceptor": "a", "rule": "m", "replaced": 1}]


def test_modify_then_block_is_a_block():
    msg = tool_result("hello")
    a = Recorder("a", Verdict.modify(copy.deepcopy(msg.envelope), {}))
    b = Recorder("b", Verdict.block("no"))
    assert Chain([a, b]).run(msg).action is Action.BLOCK


def test_modify_without_envelope_is_a_block():
    a = Recorder("a", Verdict(Action.MODIFY, "x"))
    assert Chain([a]).run(tool_call("x")).action is Action.BLOCK


def test_audit_mode_verdict_is_recorded_but_not_applied():
    a = Recorder("a", Verdict.block("would block", rule="r", enforce=False))
    b = Recorder("b")
    out = Chain([a, b]).run(tool_call("x"))
    assert out.action is Action.PASS and len(b.seen) == 1
    assert out.verdicts[0].reason == "would block" and out.verdicts[0].enforce is False


def test_explicit_allow_names_the_rule():
    out = Chain([Recorder("a", Verdict.allow(rule="allow-reads"))]).run(tool_call("x"))
    assert out.action is Action.PASS and out.rule == "allow-reads"


def test_observe_sees_every_final_outcome():
    a = Recorder("a", Verdict.block("no"))
    b = Recorder("b")
    chain = Chain([a, b])
    msg = tool_call("x")
    outcome = chain.run(msg)
    chain.observe(msg, outcome)
    assert a.observed == b.observed == [Action.BLOCK]
    assert isinstance(outcome, Outcome)


# --- the fast path for messages with no text ---------------------------------------------------------------------

_GATE_KEYS = sorted(NO_TEXT_KEYS) + ["message", "name", "password", "blob", "data", "token", "x"]
_GATE_TEXT = st.text(alphabet="aZz09 .+-_:/@<>x\u200b\u0430\uff10\x1b\n", max_size=8)
_GATE_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _GATE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_GATE_KEYS), inner, max_size=4),
    max_leaves=10,
)


def _strict_text_readers():
    from content_factories import config
    from factories import make_interceptor, session

    from mcpwrap.interceptors.injection import InjectionInterceptor
    from mcpwrap.interceptors.secrets import SecretsInterceptor

    sess = session()
    # Every detector on and blocking; injection at the lowest threshold there is (any signal at all flags).
    cfg = config(secrets={"detectors": {"all": "block"}}, injection={"sensitivity": 0.01, "to_client": "block", "to_server": "block"})
    return [make_interceptor(SecretsInterceptor, sess, cfg["secrets"]), make_interceptor(InjectionInterceptor, sess, cfg["injection"])], sess


_READERS, _READERS_SESSION = _strict_text_readers()


def _messages(content):
    from factories import notification, request, response

    sess = _READERS_SESSION
    for direction in (Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT):
        yield request("sampling/createMessage", content, direction=direction, sess=sess)
        yield notification("notifications/progress", content, direction=direction, sess=sess)
        yield response(content, to="tools/call", params={"name": "echo"}, direction=direction, sess=sess)
        yield response(content, to="ping", direction=direction, sess=sess)


# Results shaped as MCP's (content items, progress), and arbitrary objects over the same keys and values.
_GATE_CONTENT = (
    st.fixed_dictionaries(
        {"content": st.lists(st.fixed_dictionaries({"type": _GATE_TEXT, "text": _GATE_TEXT}), max_size=3)},
        optional={"isError": st.booleans(), "structuredContent": _GATE_VALUES, "_meta": _GATE_VALUES},
    )
    | st.fixed_dictionaries({"progressToken": _GATE_VALUES, "progress": _GATE_VALUES}, optional={"total": _GATE_VALUES})
    | st.dictionaries(st.sampled_from(_GATE_KEYS), _GATE_VALUES, max_size=4)
    | st.lists(_GATE_VALUES, max_size=3)
)


@settings(max_examples=600, deadline=None)
@given(content=_GATE_CONTENT)
def test_the_no_text_gate_skips_only_what_every_text_reader_passes(content):
    if not has_no_text({"params": content}):
        return
    for msg in _messages(content):
        for reader in _READERS:
            assert reader.inspect(msg) is None, (reader.name, msg.envelope)


@pytest.mark.parametrize(
    ("envelope", "no_text"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, True),
        ({"jsonrpc": "2.0", "id": 1, "result": {}}, True),
        ({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 7, "progress": 3, "total": 10}}, True),
        ({"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "42"}], "isError": False}}, True),
        ({"jsonrpc": "2.0", "id": 2, "result": {"content": [{"type": "text", "text": "hello world"}]}}, False),
        ({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "abc", "progress": 1}}, False),
        ({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}, False),
        ({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text", "text": "a\u200bb"}]}}, False),
        ({"jsonrpc": "2.0", "id": 5, "result": ["text"]}, False),
        ({"jsonrpc": "2.0", "id": 6, "params": "ignore previous instructions"}, False),
        ({"jsonrpc": "2.0", "id": 7, "error": {"code": -32601, "message": "Method not found"}}, False),
    ],
)
def test_has_no_text(envelope, no_text):
    assert has_no_text(envelope) is no_text


def test_text_readers_are_skipped_only_for_messages_with_no_text():
    from factories import notification

    reader, other = Recorder("secrets"), Recorder("schema")
    chain = Chain([reader, other], text_readers={"secrets"})
    chain.run(notification("notifications/progress", {"progressToken": 1, "progress": 1}))
    assert len(reader.seen) == 0 and len(other.seen) == 1
    chain.run(tool_result("some text to scan"))
    assert len(reader.seen) == 1 and len(other.seen) == 2
    # Without text_readers every interceptor sees every message.
    everyone = Recorder("secrets")
    Chain([everyone]).run(notification("notifications/progress", {"progressToken": 1, "progress": 1}))
    assert len(everyone.seen) == 1


def test_the_short_text_limit_is_below_every_detector():
    from mcpwrap._chain import _SHORT_TEXT
    from mcpwrap.detect import secrets

    longest = _SHORT_TEXT.pattern.rsplit(",", 1)[1].rstrip("}")
    assert int(longest) < secrets.MIN_CANDIDATE_CHARS
