"""Held requests, called directly: what a release forwards, who decides first, and failing closed.

A relay with two pipes stands in for the client and the server (no child process, no pumps): each test reads
what reached either side after closing the writers.
"""

from __future__ import annotations

import json
import os

import pytest

from mcpwrap._chain import Chain
from mcpwrap._errors import AuditError
from mcpwrap._message import Direction, HeldCall, Message, Session, Verdict
from mcpwrap._relay import holds
from mcpwrap._relay import jsonrpc as rpc
from mcpwrap._relay.holds import HeldRequest
from mcpwrap._relay.io import PipeWriter
from mcpwrap._relay.relay import _DROPPED, Relay, _Batch

CALL = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "delete", "arguments": {"path": "/tmp/x"}}}


def line(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class Log:
    """An audit log that keeps its records; ``broken`` makes every flush fail as with on_failure: block."""

    def __init__(self, broken: bool = False) -> None:
        self.records: list[tuple[str, dict]] = []
        self.broken = broken

    def record(self, event, **fields):
        self.records.append((event, fields))
        return {}

    def flush(self):
        if self.broken:
            raise AuditError("disk full")

    def events(self) -> list[str]:
        return [e for e, _ in self.records]


class Peers:
    """The relay's two output pipes; ``server()`` and ``client()`` close them and return what was written."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.server_r, server_w = os.pipe()
        self.client_r, client_w = os.pipe()
        relay.to_server, relay.to_client = PipeWriter(server_w, "server"), PipeWriter(client_w, "client")

    def _drain(self, fd: int) -> bytes:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
        return data

    def server(self) -> bytes:
        self.relay.to_server.close()
        return self._drain(self.server_r)

    def client(self) -> list[dict]:
        self.relay.to_client.close()
        return [json.loads(x) for x in self._drain(self.client_r).splitlines()]

    def close(self) -> None:
        self.relay.to_server.close()
        self.relay.to_client.close()
        os.close(self.server_r)
        os.close(self.client_r)


@pytest.fixture
def log():
    return Log()


@pytest.fixture
def peers(log):
    p = Peers(Relay(["true"], Session("s1", "srv"), Chain([]), audit=log))
    yield p
    p.close()


def hold(relay: Relay, envelope: dict = CALL, raw: bytes | None = None) -> HeldRequest:
    """Hold ``envelope`` as the pump does: freeze its bytes, put it in the relay's table."""
    raw = raw if raw is not None else line(envelope).rstrip(b"\n")
    msg = Message(Direction.CLIENT_TO_SERVER, raw, envelope, relay.session)
    held = HeldRequest(relay, msg, holds.freeze(msg, raw))
    relay.held[msg.id] = held
    return held


def test_a_held_request_is_not_released_unaudited():
    """An approved hold whose release cannot be recorded is answered with the block contract instead."""
    relay = Relay(["true"], Session("s1", "srv"), Chain([]), audit=Log(broken=True))
    p = Peers(relay)
    held = hold(relay)
    try:
        assert held.release() is False
        assert p.server() == b""  # nothing reached the server
        (answer,) = p.client()
        assert answer["id"] == 5 and answer["result"]["isError"] is True and "audit log" in json.dumps(answer)
        assert relay.pending[Direction.CLIENT_TO_SERVER] == {} and relay.held == {}
    finally:
        p.close()


def test_a_release_forwards_the_bytes_frozen_when_it_was_held(peers, log):
    raw = b'{ "id":5, "jsonrpc":"2.0","method":"tools/call","params":{"name":"delete","arguments":{"path":"/tmp/x"}}}'
    held = hold(peers.relay, json.loads(raw), raw)
    held.msg.envelope["params"]["arguments"]["path"] = "/"  # a later change to the envelope object
    assert held.release() is True
    assert peers.server() == raw + b"\n"  # byte for byte, as received
    assert 5 in peers.relay.pending[Direction.CLIENT_TO_SERVER] and peers.relay.held == {}
    assert peers.client() == []
    assert "hold-released" in log.events()


@pytest.mark.parametrize("how", ["modified", "in batch"])
def test_what_is_frozen_when_the_chain_changed_or_unpacked_the_request(how):
    envelope = json.loads(json.dumps(CALL))
    msg = Message(Direction.CLIENT_TO_SERVER, b"[" + line(CALL).rstrip() + b"]", envelope, Session("s1", "srv"), in_batch=how == "in batch")
    if how == "modified":
        msg.modified = True
        msg.changes.append({"interceptor": "secrets", "rule": "r"})
    frozen = holds.freeze(msg, msg.raw)
    envelope["params"]["name"] = "other"  # later changes do not reach what was frozen
    forwarded = json.loads(frozen)
    assert frozen.endswith(b"\n") and forwarded["params"]["name"] == "delete"
    assert ("mcpwrap" in forwarded["params"].get("_meta", {})) is (how == "modified")


def test_a_release_may_forward_a_replacement_envelope(peers):
    held = hold(peers.relay)
    replacement = {**CALL, "params": {"name": "delete", "arguments": {"path": "/tmp/x"}, "_meta": {"progressToken": 1}}}
    assert held.release(replacement) is True
    assert json.loads(peers.server()) == replacement
    assert peers.relay.pending[Direction.CLIENT_TO_SERVER][5].params == replacement["params"]


@pytest.mark.parametrize("first", ["release", "answer", "reply", "cancel"])
def test_the_first_decision_wins(peers, first):
    held = hold(peers.relay)
    ends: list[str] = []
    held.on_end(ends.append)
    block = Verdict.block("no", rule="r", interceptor="approval")
    reply = {"jsonrpc": "2.0", "id": 5, "result": {"content": []}}
    decisions = {
        "release": lambda: held.release(),
        "answer": lambda: held.answer(block),
        "reply": lambda: held.reply(reply),
    }
    if first == "cancel":
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}}
        peers.relay._mark_cancelled(Direction.CLIENT_TO_SERVER, Message(Direction.CLIENT_TO_SERVER, b"", cancel, peers.relay.session))
    else:
        assert decisions[first]() is True
    assert held.is_ended() and len(ends) == 1
    assert all(decide() is False for decide in decisions.values())  # every later decision is a no-op
    assert len(ends) == 1
    late: list[str] = []
    held.on_end(late.append)  # registered after the end: called at once with the same reason
    assert late == ends
    sent = peers.server()
    answers = peers.client()
    if first == "release":
        assert sent and answers == []
    elif first == "cancel":
        assert sent == b"" and answers == [] and ends == ["cancelled by the client"]  # cancelled: never answered
    else:
        assert sent == b"" and [a["id"] for a in answers] == [5]


def test_a_hold_ended_by_the_servers_exit_is_answered_once(peers):
    held = hold(peers.relay)
    peers.relay._answer_pending_on_exit(3)
    assert held.is_ended() and held.release() is False
    (answer,) = peers.client()
    assert answer["id"] == 5 and answer["error"]["code"] == rpc.SERVER_UNAVAILABLE and "status 3" in answer["error"]["message"]
    assert peers.server() == b""


@pytest.mark.parametrize(
    "verdict, why",
    [
        (None, "TypeError"),
        (Verdict.held(None), "TypeError"),  # type: ignore[arg-type]
        (Verdict.held(lambda held: 1 / 0, interceptor="approval"), "ZeroDivisionError"),
    ],
)
def test_a_hold_that_cannot_start_is_answered_with_a_block(peers, verdict, why):
    held = hold(peers.relay)
    holds.start(held, verdict)
    assert held.is_ended()
    (answer,) = peers.client()
    assert answer["id"] == 5 and answer["result"]["isError"] is True
    assert why in json.dumps(answer) and "interceptor-error" in json.dumps(answer)
    assert peers.server() == b""


def test_progress_only_for_a_request_with_a_token_and_only_while_held(peers):
    plain = hold(peers.relay)
    assert plain.progress(1) is False
    with_token = {**CALL, "id": 6, "params": {**CALL["params"], "_meta": {"progressToken": "t"}}}
    held = hold(peers.relay, with_token)
    assert held.progress_token == "t"
    assert held.progress(1, total=3, message="waiting") is True
    held.answer(Verdict.block("no", rule="r"))
    assert held.progress(2) is False
    notes = [a for a in peers.client() if a.get("method") == "notifications/progress"]
    assert [n["params"] for n in notes] == [{"progressToken": "t", "progress": 1, "total": 3, "message": "waiting"}]


def test_own_requests_are_answered_to_the_hold_never_forwarded(peers, log):
    held = hold(peers.relay)
    answers: list[dict] = []
    own_id = held.ask_client("elicitation/create", {"message": "ok?"}, answers.append)
    assert own_id is not None and own_id.startswith("mcpwrap-")
    response = {"jsonrpc": "2.0", "id": own_id, "result": {"action": "accept"}}
    assert peers.relay._handle_message(Direction.CLIENT_TO_SERVER, line(response), response, _Batch()) is _DROPPED
    assert answers == [response]
    assert held.withdraw(own_id, "decided") is False  # already answered: nothing to withdraw
    second = held.ask_client("elicitation/create", {"message": "again?"}, answers.append)
    assert second is not None and held.withdraw(second, "decided elsewhere") is True
    sent = peers.client()
    assert [m.get("method") for m in sent] == ["elicitation/create", "elicitation/create", "notifications/cancelled"]
    assert sent[2]["params"] == {"requestId": second, "reason": "decided elsewhere"}
    assert peers.server() == b""
    assert log.events().count("own-request") == 2 and log.events().count("own-response") == 1


def test_audit_from_a_hold_is_written_at_once(peers, log):
    flushed: list[int] = []
    log.flush = lambda: flushed.append(len(log.records))  # type: ignore[method-assign]
    hold(peers.relay).audit("approval", status="requested")
    assert log.records == [("approval", {"status": "requested"})] and flushed == [1]


def test_the_handle_implements_the_whole_heldcall_protocol():
    members = {name for name in vars(HeldCall) if not name.startswith("_")}
    assert members >= {"release", "answer", "reply", "progress", "ask_client", "withdraw", "audit", "on_end", "is_ended"}
    missing = sorted(name for name in members if not hasattr(HeldRequest, name) and name not in HeldRequest.__slots__)
    assert missing == []

