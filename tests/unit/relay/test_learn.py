"""What the relay learns about the session from traffic: both protocol eras, and only well-typed facts."""

from __future__ import annotations

import pytest
from factories import notification, request, response, session

from mcpwrap._relay.learn import learn_from_client, learn_from_server

CAPS = {"elicitation": {"form": {}}}
INFO = {"name": "client", "version": "1.0"}


def test_initialize_gives_version_capabilities_and_client():
    sess = session()
    learn_from_client(sess, request("initialize", {"protocolVersion": "2025-11-25", "capabilities": CAPS, "clientInfo": INFO}, sess=sess))
    assert (sess.protocol_version, sess.client_capabilities, sess.client_info, sess.stateless) == ("2025-11-25", CAPS, INFO, False)


def test_a_stateless_request_carries_them_in_meta():
    sess = session()
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": CAPS,
        "io.modelcontextprotocol/clientInfo": INFO,
    }
    learn_from_client(sess, request("tools/call", {"name": "echo", "_meta": meta}, sess=sess))
    assert (sess.protocol_version, sess.client_capabilities, sess.client_info, sess.stateless) == ("2026-07-28", CAPS, INFO, True)


@pytest.mark.parametrize(
    "params",
    [
        {"protocolVersion": 2025, "capabilities": ["elicitation"], "clientInfo": "client"},
        "flat",
        None,
    ],
)
def test_ill_typed_facts_are_ignored(params):
    sess = session(protocol_version="2025-06-18", client_capabilities={"roots": {}})
    learn_from_client(sess, request("initialize", params, sess=sess))
    assert (sess.protocol_version, sess.client_capabilities, sess.client_info) == ("2025-06-18", {"roots": {}}, {})


def test_the_server_side_comes_from_its_initialize_result():
    sess = session()
    msg = response({"protocolVersion": "2025-11-25", "serverInfo": {"name": "srv"}, "instructions": "be nice"}, to="initialize", sess=sess)
    learn_from_server(sess, msg, msg.envelope)
    assert (sess.protocol_version, sess.server_info, sess.server_instructions) == ("2025-11-25", {"name": "srv"}, "be nice")


def test_tools_are_learned_page_by_page_and_forgotten_on_list_changed():
    sess = session()
    first = response({"tools": [{"name": "a"}], "nextCursor": "c"}, to="tools/list", params={}, sess=sess)
    learn_from_server(sess, first, first.envelope)
    assert set(sess.tools.tools) == {"a"}  # usable from page one
    second = response({"tools": [{"name": "b"}]}, to="tools/list", params={"cursor": "c"}, sess=sess)
    learn_from_server(sess, second, second.envelope)
    assert set(sess.tools.tools) == {"a", "b"}
    changed = notification("notifications/tools/list_changed", direction=second.direction, sess=sess)
    learn_from_server(sess, changed, changed.envelope)
    assert sess.tools.tools == {}


def test_what_is_learned_is_what_was_forwarded():
    """The relay passes the envelope it forwards (e.g. a listing the chain modified), not the one received."""
    sess = session()
    msg = response({"tools": [{"name": "poisoned"}, {"name": "clean"}]}, to="tools/list", params={}, sess=sess)
    forwarded = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "clean"}]}}
    learn_from_server(sess, msg, forwarded)
    assert set(sess.tools.tools) == {"clean"}
