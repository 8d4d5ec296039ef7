"""The relay's tracking and flush path, called directly (the pumps run in the integration tests).

Here: what happens when the audit log cannot be written and audit.on_failure is block."""

from __future__ import annotations

import json

from mcpwrap._chain import Chain
from mcpwrap._message import Direction, PendingRequest, Session
from mcpwrap._relay import jsonrpc as rpc
from mcpwrap._relay.relay import Relay, _Batch


def line(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def make_relay() -> Relay:
    return Relay(["true"], Session("s1", "srv", "alice"), Chain([]))


def test_unaudited_client_batch_is_answered_not_forwarded():
    relay = make_relay()
    relay.pending[Direction.CLIENT_TO_SERVER][1] = PendingRequest(1, "tools/call", Direction.CLIENT_TO_SERVER, {})
    relay.pending[Direction.CLIENT_TO_SERVER]["b"] = PendingRequest("b", "resources/list", Direction.CLIENT_TO_SERVER, {})
    out = _Batch()
    out.forward.append(line({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}))
    out.forward.append(line({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}))
    out.forward.append(line([{"jsonrpc": "2.0", "id": "b", "method": "resources/list"}]))
    out.reply.append(line({"jsonrpc": "2.0", "id": 9, "error": {"code": -32600, "message": "refused earlier"}}))

    withheld = relay._withhold_unaudited(Direction.CLIENT_TO_SERVER, out)

    assert withheld.forward == []  # nothing reaches the server
    answers = [json.loads(r) for r in withheld.reply]
    assert [a["id"] for a in answers] == [9, 1, "b"]
    tool_answer = answers[1]
    assert tool_answer["result"]["isError"] is True  # tools/call: the block contract's tool error
    assert "audit log" in json.dumps(tool_answer)
    assert answers[2]["error"]["code"] == rpc.BLOCKED
    assert answers[2]["error"]["data"]["mcpwrap"]["rule"] == "audit-unwritable"
    # Answered here, so no longer pending: the exit path must not answer them a second time.
    assert relay.pending[Direction.CLIENT_TO_SERVER] == {}


def test_unaudited_server_responses_become_errors_for_the_client():
    relay = make_relay()
    out = _Batch()
    out.forward.append(line({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text", "text": "secret data"}]}}))
    out.forward.append(line({"jsonrpc": "2.0", "id": 0, "method": "roots/list"}))

    withheld = relay._withhold_unaudited(Direction.SERVER_TO_CLIENT, out)

    forwarded = [json.loads(x) for x in withheld.forward]
    assert forwarded == [
        {"jsonrpc": "2.0", "id": 4, "error": {"code": rpc.BLOCKED, "message": forwarded[0]["error"]["message"], "data": forwarded[0]["error"]["data"]}}
    ]
    assert "secret data" not in json.dumps(forwarded)
    assert [json.loads(x)["id"] for x in withheld.reply] == [0]  # the server's own request is answered to it


def test_flush_failure_is_reported_to_the_pump():
    from mcpwrap._errors import AuditError

    class BrokenLog:
        def flush(self):
            raise AuditError("disk full")

    relay = Relay(["true"], Session("s1", "srv"), Chain([]), audit=BrokenLog())
    assert relay._flush_audit() is False
    assert Relay(["true"], Session("s1", "srv"), Chain([]))._flush_audit() is True
