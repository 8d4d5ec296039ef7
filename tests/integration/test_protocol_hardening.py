"""Protocol bypasses, end to end through the real mcpwrap process and the scripted fake server (issue 16: items 2–7).

The fake server logs every line it receives (``--log-received``), so "never forwarded" is asserted on what the
server really got, not on mcpwrap's own account of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rig import FAKE, RawPeer, read_audit, wrap_command

from mcpwrap._relay import jsonrpc as rpc
from mcpwrap._relay import tracking

pytestmark = pytest.mark.integration


def received_path(tmp_path: Path) -> Path:
    # Not beside the audit log: the sandbox keeps the server out of that directory.
    (tmp_path / "run").mkdir(exist_ok=True)
    return tmp_path / "run" / "received.jsonl"


def peer(tmp_path: Path, *fake_args: str) -> RawPeer:
    received = received_path(tmp_path)
    cmd = wrap_command([*FAKE, "--log-received", str(received), *fake_args], audit_log=tmp_path / "audit.jsonl")
    return RawPeer(cmd)


def received(tmp_path: Path) -> list[bytes]:
    p = received_path(tmp_path)
    return p.read_bytes().splitlines() if p.exists() else []


def refused(tmp_path: Path) -> list[dict]:
    return [r for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "refused"]


def call(msg_id, name="echo", **args):
    return {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": {"name": name, "arguments": args}}


def test_request_forms_mcp_does_not_have_never_reach_the_server(tmp_path):
    with peer(tmp_path) as p:
        p.send({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "as-notification"}}})
        for msg_id, method, params in [
            (2, "TOOLS/CALL", {"name": "echo", "arguments": {"message": "upper"}}),
            (3, "tools/call ", {"name": "echo", "arguments": {"message": "space"}}),
            (4, "t\u043eols/call", {"name": "echo", "arguments": {"message": "cyrillic"}}),
            (5, "tools/call", ["echo", {"message": "positional"}]),
        ]:
            reply = p.request(msg_id, method, params)
            assert reply["error"]["code"] == rpc.INVALID_REQUEST, method
        p.send({"jsonrpc": "2.0", "id": 6, "method": "notifications/initialized"})
        assert p.recv()["error"]["code"] == rpc.INVALID_REQUEST
        assert p.request(7, "tools/call", {"name": "echo", "arguments": {"message": "proper"}})["result"]  # the session goes on
    got = b"\n".join(received(tmp_path))
    assert b"proper" in got
    for marker in (b"as-notification", b"upper", b"space", b"cyrillic", b"positional", b"notifications/initialized"):
        assert marker not in got
    rules = sorted(r["rule"] for r in refused(tmp_path))
    assert rules == sorted(["protocol.request-without-id", "protocol.method-spelling", "protocol.method-spelling",
                            "protocol.method-spelling", "protocol.params", "protocol.notification-with-id"])


def test_a_server_request_under_mcpwraps_id_prefix_is_answered_to_the_server(tmp_path):
    with peer(tmp_path, "--request-on-call", "elicitation/create", "--server-request-id", "mcpwrap-0000") as p:
        reply = p.request(1, "tools/call", {"name": "echo", "arguments": {}})  # the client never sees the elicitation
        server_saw = json.loads(reply["result"]["content"][0]["text"])
        assert server_saw["id"] == "mcpwrap-0000" and server_saw["error"]["code"] == rpc.INVALID_REQUEST
    assert [r["rule"] for r in refused(tmp_path)] == ["protocol.reserved-id"]


def test_a_client_response_under_the_prefix_that_answers_nothing_is_not_routed_to_the_server(tmp_path):
    with peer(tmp_path, "--request-on-call", "roots/list", "--server-request-id", "mcpwrap-guess") as p:
        p.send({"jsonrpc": "2.0", "id": "mcpwrap-abcdef", "result": {"action": "accept", "content": {}}})
        assert p.request(2, "tools/call", {"name": "echo", "arguments": {}})["result"]
    assert not any(b"mcpwrap-abcdef" in line for line in received(tmp_path))
    assert any(r["rule"] == "protocol.reserved-id" and r["id"] == "mcpwrap-abcdef" for r in refused(tmp_path))


@pytest.mark.parametrize(
    "raw, words",
    [
        ('{"content":[{"type":"text","text":"a\\udc00b"}]}', "surrogate"),
        ('{"content":[{"type":"text","text":"C:\\\\x \\ud800"}]}', "surrogate"),  # the stdlib path (escaped backslash)
        ('{"content":[],"structuredContent":{"n":1e999}}', "not finite"),
        ('{"content":[],"structuredContent":{"n":-1e999}}', "not finite"),
        ('{"content":[],"structuredContent":' + '{"a":' * 200 + "1" + "}" * 200 + "}", "nests too deeply"),
    ],
    ids=["lone-low-surrogate", "lone-high-surrogate-slow-path", "infinity", "minus-infinity", "too-deep"],
)
def test_results_no_later_stage_could_carry_are_refused_and_the_session_goes_on(tmp_path, raw, words):
    with peer(tmp_path, "--result-raw", raw) as p:
        for i in range(3):  # the s2c pump survives: every call is answered
            reply = p.request(i, "tools/call", {"name": "echo", "arguments": {}})
            assert reply["error"]["code"] == rpc.INTERNAL_ERROR and words in reply["error"]["message"]
    records = read_audit(tmp_path / "audit.jsonl")
    assert [r["answered"] for r in records if r["event"] == "refused"] == ["client"] * 3
    assert records[-1]["event"] == "session-end"


def test_a_client_request_with_a_lone_surrogate_is_refused_not_forwarded(tmp_path):
    with peer(tmp_path) as p:
        p.send(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"m":"\\udc00"}}}\n')
        reply = p.recv()
        assert reply["id"] == 1 and reply["error"]["code"] == rpc.PARSE_ERROR
        p.send(b'{"jsonrpc":"2.0","id":"\\udc00","method":"ping"}\n')  # an id that cannot be written back: audited only
        assert p.request(2, "ping")["result"] == {}
    assert [r.get("id") for r in refused(tmp_path)] == [1, None]
    assert not any(b"udc00" in line for line in received(tmp_path))


def test_in_flight_requests_are_bounded_per_direction(tmp_path):
    limit = tracking.MAX_IN_FLIGHT
    # Client side: each call waits for the client's answer to the server's roots/list, which never comes.
    with peer(tmp_path, "--request-on-call", "roots/list") as p:
        for i in range(limit + 5):
            p.send(call(i))
        blocked, server_requests = {}, 0
        while len(blocked) < 5 or server_requests < limit:
            msg = p.recv()
            if msg.get("method") == "roots/list":
                server_requests += 1
            else:
                blocked[msg["id"]] = msg
        assert sorted(blocked) == list(range(limit, limit + 5))
        assert all(m["result"]["_meta"]["mcpwrap"]["rule"] == "in-flight-limit" for m in blocked.values())
    assert len([line for line in received(tmp_path) if b'"tools/call"' in line]) == limit
    assert len([r for r in refused(tmp_path) if r.get("rule") == "in-flight-limit"]) == 5


def test_server_requests_beyond_the_bound_are_answered_to_the_server(tmp_path):
    limit = tracking.MAX_IN_FLIGHT
    with peer(tmp_path, "--flood-requests", str(limit + 3)) as p:
        p.send(call(1, "flood"))
        seen = 0
        while True:
            msg = p.recv()
            if msg.get("method") == "roots/list":
                seen += 1
                continue
            break
        # the server's first answer is mcpwrap's refusal of its request number limit + 1
        server_saw = json.loads(msg["result"]["content"][0]["text"])
        assert server_saw["id"] == f"f{limit}" and server_saw["error"]["data"]["mcpwrap"]["rule"] == "in-flight-limit"
    assert seen == limit
    over = [r for r in refused(tmp_path) if r.get("rule") == "in-flight-limit"]
    assert [r["direction"] for r in over] == ["s2c"] * 3


@pytest.mark.parametrize(
    "raw_id, answered_as",
    [(b"20.0", 20), (b"1e2", 100), (b"-3E0", -3), (b"20.5", None), (b"null", None), (b"{}", None), (b"[1]", None), (b"true", None)],
)
def test_a_request_with_an_id_mcp_does_not_have_is_answered_not_dropped(tmp_path, raw_id, answered_as):
    # MCP ids are strings or integers. Any other id is refused, and still answered: under the integer the sender's
    # JSON reads (20.0 is 20 to JavaScript), or under id null where no peer could match it (JSON-RPC's rule).
    with peer(tmp_path) as p:
        p.send(b'{"jsonrpc":"2.0","id":' + raw_id + b',"method":"tools/call","params":{"name":"echo","arguments":{"message":"odd-id"}}}\n')
        reply = p.recv()
        assert reply["id"] == answered_as and reply["error"]["code"] == rpc.INVALID_REQUEST
        assert p.request(2, "tools/call", {"name": "echo", "arguments": {"message": "next"}})["result"]  # the session goes on
    assert not any(b"odd-id" in line for line in received(tmp_path))
    assert len(refused(tmp_path)) == 1
