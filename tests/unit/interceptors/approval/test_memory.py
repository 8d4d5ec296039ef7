"""What a person's decisions leave behind in a session, kept on the interceptor across reloads."""

from __future__ import annotations

import time

from approval_factories import MODERN_ELICIT, FakeHeld, call, first_leg, interceptor, retry, session

from mcpwrap._message import Action, Direction, Message
from mcpwrap.interceptors.approval import ApprovalSettings
from mcpwrap.interceptors.approval.memory import SessionMemory


def test_session_memory_survives_a_reload(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"], answer={"action": "accept", "content": {"decision": "approve", "remember": "session"}})
    icpt.inspect(msg).hold(FakeHeld(msg))
    icpt.configure(ApprovalSettings())  # SIGHUP reconfigures the same chain
    reloaded = icpt
    verdict = reloaded.inspect(call(sess, args={"path": "/other"}))
    assert verdict.action is Action.PASS and verdict.rule == "confirm"
    other = session(**MODERN_ELICIT)
    assert interceptor(other, tmp_path).inspect(call(other)).action is Action.HOLD


def memory_of(**kw) -> SessionMemory:
    return SessionMemory(session(**kw))


def test_a_nonce_is_redeemed_once():
    memory = memory_of()
    assert memory.use_nonce("n1", time.time() + 60) is True
    assert memory.use_nonce("n1", time.time() + 60) is False
    assert memory.use_nonce("n2", time.time() + 60) is True


def test_continuations_expire():
    memory = memory_of()
    memory.approve_continuations("live", 60)
    memory.approve_continuations("past", -1)
    assert memory.is_continuation("live") and not memory.is_continuation("past")
    assert "past" not in memory.continuations  # pruned, so the table does not grow with old calls


def test_only_a_stateless_session_notes_continuations():
    for stateless in (False, True):
        memory = memory_of(stateless=stateless)
        msg = call(memory.session)
        memory.note_approved(msg, msg.params, 60)
        assert bool(memory.continuations) is stateless


def test_remember_session_covers_the_rule_and_subject_only():
    memory = memory_of()
    records: list = []
    memory.remember(call(memory.session), "confirm", "session", {"path": "/tmp/x"}, lambda *a, **f: records.append((a, f)))
    assert memory.is_remembered("confirm", call(memory.session, args={"path": "/other"}))
    assert not memory.is_remembered("other-rule", call(memory.session))
    assert not memory.is_remembered("confirm", call(memory.session, tool="delete"))
    assert records == []  # nothing is written for "session"


def test_remember_once_leaves_nothing():
    memory = memory_of()
    memory.remember(call(memory.session), "confirm", "once", {"path": "/tmp/x"}, lambda *a, **f: None)
    assert memory.remembered == set()


def test_remember_always_writes_an_override_rule_and_covers_the_session(mcpwrap_home):
    memory = memory_of()
    records: list = []
    memory.remember(call(memory.session), "confirm", "always", {"path": "/tmp/x", "text": "hi"}, lambda event, **f: records.append((event, f)))
    ((event, fields),) = records
    assert event == "approval-remembered" and "error" not in fields
    overrides = (mcpwrap_home / "policy.overrides.yaml").read_text()
    assert "/tmp/x" in overrides and "write" in overrides
    assert memory.is_remembered("confirm", call(memory.session))


def test_remember_always_that_cannot_be_written_is_audited_and_still_covers_the_session():
    memory = memory_of()
    records: list = []
    memory.remember(call(memory.session), "confirm", "always", ["not", "an", "object"], lambda event, **f: records.append((event, f)))
    ((event, fields),) = records
    assert event == "approval-remembered" and "not an object" in fields["error"]
    assert memory.is_remembered("confirm", call(memory.session))


def test_always_is_offered_only_for_a_tool_call_an_override_can_pin():
    memory = memory_of()
    assert memory.always_possible(call(memory.session))
    prompt = Message(Direction.CLIENT_TO_SERVER, b"", {"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {"name": "p"}}, memory.session)
    assert not memory.always_possible(prompt)
    assert not memory.always_possible(call(memory.session, args=["positional"]))  # type: ignore[arg-type]


def test_sessions_share_nothing(tmp_path):
    first, second = session(**MODERN_ELICIT), session(**MODERN_ELICIT)
    a, b = interceptor(first, tmp_path), interceptor(second, tmp_path)
    a.memory.remember(call(first), "confirm", "session", {}, lambda *a, **f: None)
    assert a.memory is not b.memory and b.memory.remembered == set()
