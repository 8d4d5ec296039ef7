"""The stateless channel through the interceptor: input_required, then the verified retry."""

from __future__ import annotations

import json
import time

import pytest
from approval_factories import MODERN_ELICIT, NOTE, FakeHeld, call, first_leg, interceptor, retry, session
from factories import make_interceptor

from mcpwrap._message import Action
from mcpwrap.interceptors.approval import INPUT_KEY, ApprovalInterceptor, ApprovalSettings


def test_stateless_first_leg_is_input_required(tmp_path):
    sess = session(**MODERN_ELICIT)
    _, result = first_leg(tmp_path, sess)
    assert result["resultType"] == "input_required"
    request = result["inputRequests"][INPUT_KEY]
    assert request["method"] == "elicitation/create" and request["params"]["mode"] == "form"
    assert result["requestState"].startswith("mcpwrap1.")
    assert oct((tmp_path / "key").stat().st_mode & 0o777) == "0o600"


def test_stateless_retry_forwards_the_frozen_call_without_mcpwrap_fields(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"])
    verdict = icpt.inspect(msg)
    assert verdict.action is Action.HOLD
    held = FakeHeld(msg)
    verdict.hold(held)
    (forward,) = held.released
    assert forward == {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "write", "arguments": {"path": "/tmp/x", "text": "hi"}, "_meta": {"progressToken": 7}},
    }
    assert [f["status"] for e, f in held.records if e == "approval"] == ["approved"]


def test_stateless_decline_is_answered_with_a_block(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"], answer={"action": "decline"})
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    assert held.released == [] and len(held.answers) == 1


@pytest.mark.parametrize("how", ["tampered", "other-session", "other-key", "replay", "expired", "other-args", "other-tool", "garbage"])
def test_stateless_state_is_refused(tmp_path, how):
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess, note={**NOTE, "timeout": 0.05} if how == "expired" else NOTE)
    state = result["requestState"]
    checker, args, tool = icpt, None, "write"
    if how == "tampered":
        state = state.replace(state[12], "A" if state[12] != "A" else "B", 1)
    elif how == "other-session":
        checker = interceptor(session(**MODERN_ELICIT), tmp_path)
    elif how == "other-key":
        checker = make_interceptor(ApprovalInterceptor, sess, ApprovalSettings(), key_path=str(tmp_path / "other-key"))
    elif how == "replay":
        assert icpt.inspect(retry(sess, state)).action is Action.HOLD
    elif how == "expired":
        time.sleep(0.1)
    elif how == "other-args":
        args = {"path": "/etc/passwd", "text": "hi"}
    elif how == "other-tool":
        tool = "delete"
    elif how == "garbage":
        state = "mcpwrap1.not-base64!.x"
    verdict = checker.inspect(retry(sess, state, args=args, tool=tool, msg_id=3))
    assert verdict.action is Action.BLOCK and verdict.rule == "approval-state"
    assert "not valid" in verdict.reason and state not in verdict.reason


def test_audit_never_sees_the_state(tmp_path):
    sess = session(**MODERN_ELICIT)
    icpt = interceptor(sess, tmp_path)
    msg = call(sess)
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    state = held.replies[0]["result"]["requestState"]
    assert state not in json.dumps(held.records)


def test_server_rounds_of_an_approved_call_are_not_asked_again(tmp_path):
    """The server may answer the approved call with its own input_required; its retry continues that call."""
    sess = session(**MODERN_ELICIT)
    icpt, result = first_leg(tmp_path, sess)
    msg = retry(sess, result["requestState"])
    icpt.inspect(msg).hold(FakeHeld(msg))
    server_round = call(sess, msg_id=4, extra={"inputResponses": {"server-key": {"action": "accept"}}, "requestState": "server-opaque"})
    verdict = icpt.inspect(server_round)
    assert verdict.action is Action.PASS and verdict.details == {"approval": "continuation"}
    # Without a requestState it is a new call, and other arguments are another call: both are asked again.
    assert icpt.inspect(call(sess, msg_id=5)).action is Action.HOLD
    other = call(sess, msg_id=6, args={"path": "/etc/passwd"}, extra={"requestState": "server-opaque"})
    assert icpt.inspect(other).action is Action.HOLD


def test_a_server_round_that_needs_approval_keeps_the_servers_fields(tmp_path):
    sess = session(**MODERN_ELICIT)
    server_fields = {"inputResponses": {"server-key": {"action": "accept", "content": {"ok": True}}}, "requestState": "server-opaque"}
    icpt = interceptor(sess, tmp_path)
    first = call(sess, extra=dict(server_fields))
    held = FakeHeld(first)
    icpt.inspect(first).hold(held)
    state = held.replies[0]["result"]["requestState"]
    msg = retry(sess, state)
    held = FakeHeld(msg)
    icpt.inspect(msg).hold(held)
    (forward,) = held.released
    assert forward["params"]["requestState"] == "server-opaque"
    assert forward["params"]["inputResponses"] == server_fields["inputResponses"]
