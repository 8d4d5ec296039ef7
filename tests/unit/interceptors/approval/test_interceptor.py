"""The approval interceptor called directly: which channel a call gets, and when it passes or is blocked."""

from __future__ import annotations

import pytest
from approval_factories import LEGACY_ELICIT, MODERN_ELICIT, NOTE, call, interceptor, need, session

from mcpwrap._message import Action, Direction, Message, Verdict
from mcpwrap.interceptors.approval import ApprovalRequirement, ApprovalSettings


@pytest.mark.parametrize(
    "kw, channels, expected",
    [
        (LEGACY_ELICIT, ["elicitation", "stateless", "terminal"], ["elicitation", "terminal"]),
        (dict(protocol_version="2025-06-18", client_capabilities={"elicitation": {}}), ["elicitation"], ["elicitation"]),
        (dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"url": {}}}), ["elicitation"], []),  # URL mode only
        (dict(protocol_version="2025-11-25", client_capabilities={}), ["elicitation", "terminal"], ["terminal"]),
        (dict(protocol_version="2025-11-25", client_capabilities={}), ["elicitation", "stateless"], []),
        (MODERN_ELICIT, ["elicitation", "stateless", "terminal"], ["stateless"]),  # servers may not send requests
        (MODERN_ELICIT, ["terminal", "stateless"], ["terminal"]),  # the rule's order decides
        (dict(protocol_version="2026-07-28", stateless=True, client_capabilities={}), ["stateless", "terminal"], ["terminal"]),
    ],
)
def test_available_channels(tmp_path, kw, channels, expected):
    sess = session(**kw)
    msg = call(sess, note={**NOTE, "channels": channels})
    assert interceptor(sess, tmp_path).available_channels(msg, ApprovalRequirement(msg.notes.approval, ApprovalSettings())) == expected


def test_no_note_no_verdict_and_responses_ignored(tmp_path):
    sess = session(**LEGACY_ELICIT)
    icpt = interceptor(sess, tmp_path)
    assert icpt.inspect(call(sess, note=None)) is None
    response = Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": 1, "result": {}}, sess)
    response.notes.approval = need(NOTE)
    assert icpt.inspect(response) is None


def test_held_when_a_channel_exists(tmp_path):
    sess = session(**LEGACY_ELICIT)
    verdict = interceptor(sess, tmp_path).inspect(call(sess))
    assert verdict.action is Action.HOLD and callable(verdict.hold) and verdict.rule == "confirm"


def test_no_channel_blocks_with_instructions_and_no_secret(tmp_path):
    sess = session(protocol_version="2025-11-25")
    verdict = interceptor(sess, tmp_path).inspect(call(sess, note={**NOTE, "channels": ["elicitation"]}))
    assert verdict.action is Action.BLOCK
    assert "mcpwrap approvals" in verdict.reason and "policy rule" in verdict.reason
    assert not (tmp_path / "key").exists()  # nothing was issued


@pytest.mark.parametrize(
    "note",
    [
        {**NOTE, "on_timeout": "maybe"},
        {**NOTE, "channels": ["carrier-pigeon"]},
        {**NOTE, "remember": ["forever"]},
        "approve",
    ],
)
def test_a_malformed_note_raises_so_the_chain_blocks(tmp_path, note):
    sess = session(**LEGACY_ELICIT)
    msg = call(sess)
    msg.notes.approval = need(note) if isinstance(note, dict) else note
    with pytest.raises((ValueError, TypeError)):
        interceptor(sess, tmp_path).inspect(msg)


def test_chain_stops_at_a_hold_and_refuses_to_hold_a_response():
    from mcpwrap._chain import Chain, ChainContext, Interceptor

    class Holder(Interceptor):
        name = "holder"

        def inspect(self, msg):
            return Verdict.held(lambda held: None, reason="wait")

    class After(Interceptor):
        name = "after"
        seen = 0

        def inspect(self, msg):
            After.seen += 1

    sess = session()
    ctx = ChainContext(sess)
    chain = Chain([Holder(ctx), After(ctx)])
    outcome = chain.run(call(sess, note=None))
    assert outcome.action is Action.HOLD and outcome.decisive.interceptor == "holder" and After.seen == 0
    response = Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": 1, "result": {}}, sess)
    outcome = chain.run(response)
    assert outcome.action is Action.BLOCK and outcome.decisive.rule == "interceptor-error"
