"""The signed requestState: only mcpwrap's key makes one, any change unmakes it, and what it binds."""

from __future__ import annotations

import pytest

from mcpwrap.interceptors.approval import token

KEY = b"k" * 32
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # the URL-safe alphabet
PAYLOAD = {"v": 1, "nonce": "n", "session": "s", "method": "tools/call", "params": {"name": "write", "arguments": {"path": "/tmp/é"}}}


def test_a_signed_state_verifies_to_its_payload():
    state = token.sign(KEY, PAYLOAD)
    assert state.startswith(token.STATE_PREFIX) and state.isascii()
    assert token.verify(KEY, state) == PAYLOAD


def test_any_change_to_what_the_state_carries_is_refused():
    """Each base64 character is changed in its top bit (low bits of a last character may be padding)."""
    state = token.sign(KEY, PAYLOAD)
    for i in range(len(token.STATE_PREFIX), len(state)):
        at = B64.find(state[i])
        changed = state[:i] + (B64[(at + 32) % 64] if at >= 0 else "A") + state[i + 1 :]
        assert token.verify(KEY, changed) is None, i


@pytest.mark.parametrize(
    "state",
    [
        "mcpwrap1.",
        "mcpwrap1..",
        "mcpwrap1.no-mac",
        "mcpwrap1.not-base64!.x",
        "mcpwrap1.é.x",
        "mcpwrap1." + "A" * 40 + "." + "B" * 43,
    ],
)
def test_garbage_is_refused_without_an_exception(state):
    assert token.verify(KEY, state) is None


def test_another_key_or_a_payload_that_is_not_an_object_is_refused():
    assert token.verify(b"o" * 32, token.sign(KEY, PAYLOAD)) is None
    assert token.verify(KEY, token.sign(KEY, ["a", "list"])) is None  # type: ignore[arg-type]


def test_nonces_are_fresh():
    nonces = {token.new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000 and all(len(n) >= 16 for n in nonces)


def test_the_call_a_person_approves_excludes_only_transport_fields():
    params = {"name": "write", "arguments": {"a": 1}, "task": {"ttl": 1}, "_meta": {"progressToken": 1}, "inputResponses": {}, "requestState": "s"}
    assert token.call_params(params) == {"name": "write", "arguments": {"a": 1}, "task": {"ttl": 1}}
    same = token.call_digest("tools/call", {"arguments": {"a": 1}, "name": "write", "task": {"ttl": 1}})
    assert token.call_digest("tools/call", params) == same  # key order and transport fields do not matter
    assert token.call_digest("tools/call", {**params, "arguments": {"a": 2}}) != same
    assert token.call_digest("prompts/get", params) != same
