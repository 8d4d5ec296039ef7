"""One held call waiting for a person, driven through a HeldCall double: the first answer wins, failures deny.

Each test starts a real :class:`Wait` (it runs its own thread) and waits on a condition with a deadline.
"""

from __future__ import annotations

import json

import pytest
from approval_factories import NOTE, FakeHeld, call, need, session, wait_until

from mcpwrap._state.approvals import ApprovalQueue
from mcpwrap.interceptors.approval import ApprovalRequirement, ApprovalSettings
from mcpwrap.interceptors.approval.memory import SessionMemory
from mcpwrap.interceptors.approval.wait import Wait

ELICIT = dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"form": {}}})


def settings(**kw) -> ApprovalSettings:
    s = ApprovalSettings()
    for key, value in kw.items():
        setattr(s, key, value)
    return s


def start(tmp_path, channels, *, note=None, progress_token=None, can_ask=True, queue=None, **kw):
    sess = session(**ELICIT)
    held = FakeHeld(call(sess), progress_token=progress_token, can_ask=can_ask)
    req = ApprovalRequirement(need({**NOTE, "channels": channels, **(note or {})}), ApprovalSettings())
    memory = SessionMemory(sess)
    wait = Wait(held, req, channels, queue=queue or ApprovalQueue(tmp_path / "queue"), settings=settings(**kw), memory=memory)
    wait.start()
    return wait, held


def answer_form(held: FakeHeld, result: dict) -> None:
    assert wait_until(lambda: held.asked)
    (method, _params, on_response) = held.asked[0]
    assert method == "elicitation/create"
    on_response({"jsonrpc": "2.0", "id": "mcpwrap-test-1", "result": result})


def test_an_approval_on_the_form_releases_and_withdraws_the_terminal_entry(tmp_path):
    wait, held = start(tmp_path, ["elicitation", "terminal"])
    assert wait.approval_id is not None and wait.queue.pending()
    answer_form(held, {"action": "accept", "content": {"decision": "approve", "remember": "session"}})
    assert wait_until(held.is_ended)
    assert held.released == [None] and held.answers == []
    assert held.statuses() == ["requested", "approved"]
    assert wait.queue.pending() == []  # the other channel was withdrawn
    assert wait.memory.is_remembered("confirm", held.msg)


def test_a_decline_on_the_form_is_a_block(tmp_path):
    wait, held = start(tmp_path, ["elicitation"])
    answer_form(held, {"action": "decline"})
    assert wait_until(held.is_ended)
    assert held.released == [] and "did not approve" in held.answers[0].reason and held.answers[0].interceptor == "approval"
    assert held.statuses() == ["requested", "denied"]


def test_a_terminal_decision_decides_and_the_form_is_withdrawn(tmp_path):
    wait, held = start(tmp_path, ["elicitation", "terminal"])
    wait.queue.decide(wait.approval_id, "approve")
    assert wait_until(held.is_ended)
    assert held.released == [None] and held.withdrawn == ["mcpwrap-test-1"]
    assert [f["channel"] for e, f in held.records if e == "approval"] == ["elicitation,terminal", "terminal"]


def test_a_terminal_decision_about_another_call_denies(tmp_path):
    wait, held = start(tmp_path, ["terminal"])
    entry = wait.queue.dir / f"{wait.approval_id}.json"
    record = json.loads(entry.read_text())
    entry.write_text(json.dumps({**record, "digest": "sha256:" + "0" * 64}))  # the entry shown was another call
    wait.queue.decide(wait.approval_id, "approve")
    assert wait_until(held.is_ended)
    assert held.released == [] and held.answers
    assert held.records[-1][1]["choice"] == "decision did not match the held call"


@pytest.mark.parametrize("on_timeout, released", [("deny", False), ("allow", True)])
def test_at_the_deadline_the_rules_on_timeout_applies(tmp_path, on_timeout, released):
    wait, held = start(tmp_path, ["terminal"], note={"timeout": 0.2, "on_timeout": on_timeout})
    assert wait_until(held.is_ended)
    assert held.statuses() == ["requested", "timed-out"]
    assert bool(held.released) is released and bool(held.answers) is not released
    if not released:
        assert "mcpwrap approvals" in held.answers[0].reason  # says how to approve, never the id
        assert wait.approval_id not in held.answers[0].reason
    assert wait.queue.pending() == []


def test_without_a_progress_token_the_wait_is_capped(tmp_path):
    wait, _ = start(tmp_path, ["terminal"], note={"timeout": 300}, max_wait_without_progress=5.0)
    assert wait.wait == 5.0
    with_token, _ = start(tmp_path, ["terminal"], note={"timeout": 300}, progress_token="t", max_wait_without_progress=5.0)
    assert with_token.wait == 300
    for w in (wait, with_token):
        w.held.end_from_outside("client gone")


def test_progress_is_sent_while_waiting(tmp_path):
    _, held = start(tmp_path, ["terminal"], note={"timeout": 0.5}, progress_token="t", progress_interval=0.05)
    assert wait_until(held.is_ended)
    assert len(held.progressed) >= 2 and held.progressed == sorted(held.progressed)


def test_a_hold_ended_from_outside_is_recorded_and_never_answered(tmp_path):
    wait, held = start(tmp_path, ["elicitation", "terminal"])
    assert held.end_from_outside("cancelled by the client")
    assert held.statuses() == ["requested", "expired"] and held.released == [] and held.answers == []
    assert held.withdrawn == ["mcpwrap-test-1"] and wait.queue.pending() == []


def test_no_usable_channel_denies_at_once(tmp_path):
    _, held = start(tmp_path, ["elicitation"], can_ask=False)
    assert held.is_ended() and held.released == []
    assert "none of the rule's approval channels" in held.answers[0].reason


def test_a_form_the_client_cannot_show_falls_back_to_the_terminal(tmp_path):
    wait, held = start(tmp_path, ["elicitation", "terminal"])
    assert wait_until(lambda: held.asked)
    held.asked[0][2]({"jsonrpc": "2.0", "id": "mcpwrap-test-1", "error": {"code": -32601, "message": "no elicitation"}})
    assert wait_until(lambda: "channel-failed" in held.statuses())
    assert not held.is_ended()
    wait.queue.decide(wait.approval_id, "deny")
    assert wait_until(held.is_ended)
    assert held.statuses() == ["requested", "channel-failed", "denied"] and held.answers


def test_a_broken_wait_denies(tmp_path):
    class BrokenQueue(ApprovalQueue):
        def poll_decision(self, approval_id):
            raise RuntimeError("unreadable")

    _, held = start(tmp_path, ["terminal"], queue=BrokenQueue(tmp_path / "queue"))
    assert wait_until(held.is_ended)
    assert held.released == [] and "could not be completed (RuntimeError)" in held.answers[0].reason
