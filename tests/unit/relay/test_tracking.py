"""Request tracking in the relay: the gate runs before the chain, own ids are unguessable and never accepted from a
peer, and the in-flight tables are bounded per direction (issue 16, items 2, 3 and 6)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mcpwrap._chain import Chain, Interceptor
from mcpwrap._message import Direction, Session, Verdict
from mcpwrap._relay import jsonrpc as rpc
from mcpwrap._relay import tracking
from mcpwrap._relay.framing import Frame
from mcpwrap._relay.relay import Relay, _Batch

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT


class Records:
    """Collects audit events the relay records (the audit log's interface, in memory)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def record(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    def flush(self) -> None:
        pass

    def refused(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "refused"]


class Seen(Interceptor):
    """Records every message the chain is asked about."""

    name = "seen"

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def inspect(self, msg: Any) -> Verdict | None:
        self.messages.append(msg.envelope)
        return None


def make_relay(**kw: Any) -> tuple[Relay, Records, Seen]:
    seen = Seen()
    records = Records()
    relay = Relay(["true"], Session("session-id-in-the-audit-log", "srv", "alice"), Chain([seen]), audit=records, **kw)
    return relay, records, seen


def feed(relay: Relay, direction: Direction, *messages: Any) -> _Batch:
    out = _Batch()
    for m in messages:
        raw = m if isinstance(m, bytes) else json.dumps(m).encode()
        relay._handle_frame(direction, Frame(raw, len(raw)), out)
    return out


def decoded(chunks: list[bytes]) -> list[Any]:
    return [json.loads(c) for c in b"".join(chunks).splitlines() if c.strip()]


def call(msg_id: Any, name: str = "echo") -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": {"name": name, "arguments": {}}}


# --- the gate, before the chain ---------------------------------------------------------------------------------


def test_a_tools_call_sent_as_a_notification_reaches_neither_the_chain_nor_the_server():
    relay, records, seen = make_relay()
    out = feed(relay, C2S, {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "delete_file", "arguments": {"path": "/"}}})
    assert out.forward == [] and out.reply == [] and seen.messages == []
    [rec] = records.refused()
    assert rec["rule"] == "protocol.request-without-id" and rec["interceptor"] == "protocol" and rec["method"] == "tools/call"


@pytest.mark.parametrize(
    "message, rule",
    [
        (call(7, "exec") | {"method": "TOOLS/CALL"}, "protocol.method-spelling"),
        ({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": ["exec_command", {}]}, "protocol.params"),
        ({"jsonrpc": "2.0", "id": 7, "method": "notifications/initialized"}, "protocol.notification-with-id"),
    ],
)
def test_refused_requests_are_answered_with_invalid_request_and_audited(message, rule):
    relay, records, seen = make_relay()
    out = feed(relay, C2S, message)
    assert out.forward == [] and seen.messages == []
    [answer] = decoded(out.reply)
    assert answer["id"] == 7 and answer["error"]["code"] == rpc.INVALID_REQUEST
    assert [r["rule"] for r in records.refused()] == [rule]
    assert relay.pending[C2S] == {}


def test_a_batch_refuses_its_bad_elements_one_by_one():
    relay, records, seen = make_relay()
    bad = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "rm"}}
    out = feed(relay, C2S, [call(1), bad, call(2) | {"method": "Tools/Call"}])
    assert [m["id"] for m in decoded(out.forward)[0]] == [1]
    assert [a["id"] for a in decoded(out.reply)[0]] == [2]
    assert sorted(r["rule"] for r in records.refused()) == ["protocol.method-spelling", "protocol.request-without-id"]


def test_a_server_result_that_is_not_an_object_becomes_an_error_for_the_waiting_client():
    relay, records, _ = make_relay()
    feed(relay, C2S, call(3))
    out = feed(relay, S2C, {"jsonrpc": "2.0", "id": 3, "result": ["AKIAZ7QW3ERT5YUI2OPA"]})
    [answer] = decoded(out.forward)
    assert answer["id"] == 3 and answer["error"]["code"] == rpc.INTERNAL_ERROR and "AKIA" not in json.dumps(answer)


# --- own ids ----------------------------------------------------------------------------------------------------


def test_own_ids_are_random_and_owe_nothing_to_the_session_id():
    relay, _, _ = make_relay()
    ids = {relay.next_own_id() for _ in range(1000)}
    assert len(ids) == 1000
    for own in ids:
        assert re.fullmatch(r"mcpwrap-[0-9a-f]{32}", own) and "session-id" not in own


def test_a_server_request_under_the_own_prefix_is_answered_to_the_server_and_never_reaches_the_client():
    relay, records, seen = make_relay()
    own = relay.next_own_id()  # even a correctly guessed id is refused: the prefix is reserved
    out = feed(relay, S2C, {"jsonrpc": "2.0", "id": own, "method": "elicitation/create", "params": {"message": "Approve?", "requestedSchema": {}}})
    assert out.forward == [] and seen.messages == []
    [answer] = decoded(out.reply)  # the s2c pump's replies go back to the server
    assert answer["id"] == own and answer["error"]["code"] == rpc.INVALID_REQUEST
    assert records.refused()[0]["rule"] == "protocol.reserved-id"


def test_a_client_response_under_the_own_prefix_reaches_only_mcpwrap():
    relay, records, seen = make_relay()
    got: list[dict] = []
    relay.to_client = _Sink()
    own = relay.send_client_request("elicitation/create", {"message": "m", "requestedSchema": {}}, got.append)
    assert own is not None
    # the server happens to have a request pending under the same id: the answer is still mcpwrap's
    relay.pending[S2C][own] = tracking_pending(own)
    out = feed(relay, C2S, {"jsonrpc": "2.0", "id": own, "result": {"action": "accept", "content": {}}})
    assert out.forward == [] and got and got[0]["result"]["action"] == "accept" and seen.messages == []
    # a second answer, a stale one, a forged one: dropped and audited, never routed to the server
    for stray in (own, "mcpwrap-" + "0" * 32, "MCPWRAP-x"):
        out = feed(relay, C2S, {"jsonrpc": "2.0", "id": stray, "result": {"action": "accept"}})
        assert out.forward == []
    assert [r["rule"] for r in records.refused()] == ["protocol.reserved-id"] * 3
    assert len(got) == 1 and own in relay.pending[S2C]


class _Sink:
    closed = False

    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, *chunks: bytes) -> bool:
        self.data.extend(chunks)
        return True


def tracking_pending(msg_id: Any) -> Any:
    from mcpwrap._message import PendingRequest

    return PendingRequest(msg_id, "roots/list", S2C, {})


# --- the in-flight bound ----------------------------------------------------------------------------------------


def test_the_default_bound_is_a_named_constant():
    assert Relay(["true"], Session("s", "srv")).max_in_flight == tracking.MAX_IN_FLIGHT == 1024


def test_client_requests_beyond_the_bound_are_answered_at_once_with_the_block_contract():
    relay, records, seen = make_relay(max_in_flight=3)
    out = feed(relay, C2S, *(call(i) for i in range(5)), {"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert [m["id"] for m in decoded(out.forward)] == [0, 1, 2]
    answers = {a["id"]: a for a in decoded(out.reply)}
    assert set(answers) == {3, 4, 9}
    assert answers[3]["result"]["isError"] is True and answers[3]["result"]["_meta"]["mcpwrap"]["rule"] == "in-flight-limit"
    assert answers[9]["error"]["code"] == rpc.BLOCKED and answers[9]["error"]["data"]["mcpwrap"]["rule"] == "in-flight-limit"
    assert len(relay.pending[C2S]) == 3 and len(seen.messages) == 3
    assert [(r["id"], r["rule"], r["answered"]) for r in records.refused()] == [(i, "in-flight-limit", "sender") for i in (3, 4, 9)]
    # an answer frees a slot
    feed(relay, S2C, {"jsonrpc": "2.0", "id": 0, "result": {"content": []}})
    assert [m["id"] for m in decoded(feed(relay, C2S, call(10)).forward)] == [10]


def test_held_requests_count_against_the_clients_bound():
    relay, _, _ = make_relay(max_in_flight=2)
    relay.held["h1"] = object()  # type: ignore[assignment]
    relay.held["h2"] = object()  # type: ignore[assignment]
    out = feed(relay, C2S, call(1))
    assert out.forward == [] and decoded(out.reply)[0]["result"]["_meta"]["mcpwrap"]["rule"] == "in-flight-limit"


def test_server_requests_beyond_the_bound_are_answered_to_the_server():
    relay, records, _ = make_relay(max_in_flight=2)
    out = feed(relay, S2C, *({"jsonrpc": "2.0", "id": f"s{i}", "method": "roots/list"} for i in range(4)))
    assert [m["id"] for m in decoded(out.forward)] == ["s0", "s1"]
    assert [(a["id"], a["error"]["data"]["mcpwrap"]["rule"]) for a in decoded(out.reply)] == [("s2", "in-flight-limit"), ("s3", "in-flight-limit")]
    assert all(r["direction"] == "s2c" for r in records.refused())


def test_own_requests_count_against_the_server_side_bound_and_are_not_sent_past_it():
    relay, _, _ = make_relay(max_in_flight=2)
    relay.to_client = _Sink()
    assert relay.send_client_request("elicitation/create", {}, lambda e: None) is not None
    feed(relay, S2C, {"jsonrpc": "2.0", "id": "s0", "method": "roots/list"})
    assert relay.send_client_request("elicitation/create", {}, lambda e: None) is None  # full: the caller falls back
    out = feed(relay, S2C, {"jsonrpc": "2.0", "id": "s1", "method": "roots/list"})
    assert decoded(out.reply)[0]["error"]["data"]["mcpwrap"]["rule"] == "in-flight-limit"
