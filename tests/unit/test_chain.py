from __future__ import annotations

import copy

from factories import tool_call, tool_result

from mcpwrap._chain import Chain, Interceptor, Outcome
from mcpwrap._message import Action, Verdict


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
