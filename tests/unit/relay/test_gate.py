"""The protocol gate: forms MCP does not have are refused before any interceptor runs (issue 16, items 2 and 3)."""

from __future__ import annotations

import pytest

from mcpwrap._errors import ProtocolError
from mcpwrap._message import Direction
from mcpwrap._relay import gate
from mcpwrap._relay import jsonrpc as rpc

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT


def refusal(envelope: dict, direction: Direction = C2S) -> gate.GateRefusal:
    with pytest.raises(gate.GateRefusal) as err:
        gate.check(envelope, direction)
    assert err.value.code == rpc.INVALID_REQUEST
    return err.value


def req(method: str, params=None, msg_id=1, **extra):
    env = {"jsonrpc": "2.0", "id": msg_id, "method": method, **extra}
    if params is not None:
        env["params"] = params
    return env


def test_the_method_table_separates_requests_from_notifications():
    assert gate.MCP_REQUEST_METHODS.isdisjoint(gate.MCP_NOTIFICATION_METHODS)
    assert all(m.startswith("notifications/") for m in gate.MCP_NOTIFICATION_METHODS)
    assert not any(m.startswith("notifications/") for m in gate.MCP_REQUEST_METHODS)
    assert {"tools/call", "server/discover", "elicitation/create", "tasks/result", "subscriptions/listen"} <= gate.MCP_REQUEST_METHODS
    # every spelling folds apart from every other: no two MCP methods collide under the fold
    assert len({gate.fold_method(m) for m in gate.MCP_METHODS}) == len(gate.MCP_METHODS)


SPELLINGS = [
    "TOOLS/CALL",
    "Tools/Call",
    "tools/call ",
    " tools/call",
    "tools/ call",
    "tools\t/call",
    "tools/call\u00a0",  # no-break space
    "tools/\u200bcall",  # zero-width space
    "to\u00adols/call",  # soft hyphen
    "tools/call\u2060",  # word joiner
    "\uff54\uff4f\uff4f\uff4c\uff53/\uff43\uff41\uff4c\uff4c",  # full width
    "t\u043e\u043els/call",  # Cyrillic o
    "tools/c\u0430ll",  # Cyrillic a
    "t\u03bfols/call",  # Greek omicron
    "tools/c\U0001d5ball",  # mathematical sans-serif a (NFKC reaches it)
    "tools/\u0441all",  # Cyrillic es
    "tools/ca\u04cfl",  # Cyrillic palochka (a look-alike no table here lists)
    "tools/cal\u0301l",  # combining acute
    "tools\u2215call",  # division slash
    "tools\uff0fcall",  # full-width solidus
    "tools/call\x00",  # a NUL: where a C string ends
    "tools/\x1bcall",  # a control character
]


@pytest.mark.parametrize("method", SPELLINGS)
def test_a_method_that_reads_as_tools_call_is_refused(method):
    assert method != "tools/call"
    err = refusal(req(method, {"name": "exec", "arguments": {}}))
    assert err.rule == "protocol.method-spelling" and "'tools/call'" in str(err)


@pytest.mark.parametrize("method", ["INITIALIZE", "Sampling/CreateMessage", "notifications/Cancelled", "ELICITATION/create", "resources/READ"])
def test_look_alikes_of_every_kind_of_method_are_refused(method):
    err = refusal(req(method, {}) if not method.lower().startswith("notifications/") else {"jsonrpc": "2.0", "method": method, "params": {}})
    assert err.rule == "protocol.method-spelling"


@pytest.mark.parametrize("method", ["tools/calls", "x-vendor/do", "tools/call2", "rpc.discover", "notifications/x", "tоols/callback", "检查检查"])
def test_methods_that_fold_to_no_mcp_method_pass_to_the_policy(method):
    gate.check(req(method, {}), C2S)


def valid_params(method: str) -> dict:
    if method in ("tools/call", "prompts/get"):
        return {"name": "x"}
    if method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
        return {"uri": "file:///x"}
    return {}


@pytest.mark.parametrize("method", sorted(gate.MCP_REQUEST_METHODS))
def test_every_request_method_sent_as_a_notification_is_refused(method):
    err = refusal({"jsonrpc": "2.0", "method": method, "params": valid_params(method)})
    assert err.rule == "protocol.request-without-id"
    gate.check(req(method, valid_params(method)), C2S)


@pytest.mark.parametrize(
    "method, params",
    [
        ("tools/call", {"name": ["exec"], "arguments": {}}),  # JavaScript reads handlers[["exec"]] as handlers["exec"]
        ("tools/call", {"name": {"toString": "exec"}}),
        ("tools/call", {"name": 7}),
        ("tools/call", {"arguments": {"cmd": "rm"}}),  # no name at all
        ("tools/call", {"name": "exec", "arguments": ["rm -rf /"]}),  # positional arguments: no argument rule reads them
        ("tools/call", {"name": "exec", "arguments": "rm -rf /"}),
        ("prompts/get", {"name": ["p"]}),
        ("resources/read", {"uri": ["file:///etc/shadow"]}),
        ("resources/read", {}),
        ("resources/subscribe", {"uri": 1}),
    ],
)
def test_what_a_request_acts_on_must_have_mcps_type(method, params):
    assert refusal(req(method, params)).rule == "protocol.params"


@pytest.mark.parametrize("method", sorted(gate.MCP_NOTIFICATION_METHODS))
def test_every_notification_method_sent_with_an_id_is_refused(method):
    err = refusal(req(method, {}))
    assert err.rule == "protocol.notification-with-id"
    gate.check({"jsonrpc": "2.0", "method": method, "params": {}}, C2S)


@pytest.mark.parametrize("params", [["exec_command", {}], [], None, "flat", 3, True])
@pytest.mark.parametrize("method", ["tools/call", "notifications/cancelled", "vendor/thing"])
def test_params_that_are_not_an_object_are_refused_for_every_method(params, method):
    env = {"jsonrpc": "2.0", "method": method, "params": params}
    if not method.startswith("notifications/"):
        env["id"] = 1
    assert refusal(env).rule == "protocol.params"


@pytest.mark.parametrize(
    "envelope, rule",
    [
        ({"jsonrpc": "2.0", "id": 1, "result": []}, "protocol.result"),
        ({"jsonrpc": "2.0", "id": 1, "result": "text"}, "protocol.result"),
        ({"jsonrpc": "2.0", "id": 1, "result": None}, "protocol.result"),
        ({"jsonrpc": "2.0", "id": 1, "error": "boom"}, "protocol.error"),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": "1", "message": "m"}}, "protocol.error"),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": True, "message": "m"}}, "protocol.error"),
        ({"jsonrpc": "2.0", "id": 1, "error": {"code": 1}}, "protocol.error"),
    ],
)
def test_responses_that_are_not_mcp_results_or_errors_are_refused(envelope, rule):
    assert refusal(envelope, S2C).rule == rule


@pytest.mark.parametrize("own", ["mcpwrap-0123", "MCPWRAP-0123", "mcpwrap-", "\uff4dcpwrap-1", "mcp\u200bwrap-9"])
def test_a_server_request_under_mcpwraps_id_prefix_is_refused(own):
    assert refusal(req("elicitation/create", {"message": "m", "requestedSchema": {}}, msg_id=own), S2C).rule == "protocol.reserved-id"
    gate.check(req("tools/call", {"name": "x"}, msg_id=own), C2S)  # the client's id space is its own


def test_the_server_cannot_cancel_mcpwraps_own_request():
    env = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "mcpwrap-abc"}}
    assert refusal(env, S2C).rule == "protocol.reserved-id"
    gate.check(env, C2S)  # the client may withdraw its answer to mcpwrap's question
    gate.check({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4}}, S2C)


def test_a_refusal_is_a_protocol_error_with_a_rule():
    err = refusal(req("TOOLS/LIST"))
    assert isinstance(err, ProtocolError) and err.rule.startswith("protocol.")


@pytest.mark.parametrize("method, capability", sorted(gate.CAPABILITY_OF_REQUEST.items()))
def test_a_server_request_for_a_capability_the_client_did_not_declare_is_refused(method, capability):
    from mcpwrap._message import Session

    sess = Session(session_id="s", server="srv")
    gate.check_capability(req(method, {}), S2C, sess)  # nothing declared yet: not known, passed on
    sess.protocol_version = "2025-06-18"
    sess.client_capabilities = {"other": {}}
    with pytest.raises(ProtocolError) as err:
        gate.check_capability(req(method, {}), S2C, sess)
    assert err.value.rule == "protocol.capability" and err.value.code == rpc.METHOD_NOT_FOUND
    sess.client_capabilities = {capability: {}}
    gate.check_capability(req(method, {}), S2C, sess)
    gate.check_capability(req(method, {}), C2S, Session(session_id="t", server="srv", protocol_version="2025-06-18"))
