"""`mcpwrap tools` commands on a pin store built with the interceptor (typer's runner, no process)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mcpwrap._chain import ChainContext
from mcpwrap._cli.app import app
from mcpwrap._message import Direction, Message, PendingRequest, Session
from mcpwrap._state.pins import PinStore
from mcpwrap.interceptors.integrity import IntegrityInterceptor, IntegritySettings

runner = CliRunner()
TOOL = {"name": "quote", "description": "Returns a quote.", "inputSchema": {"type": "object", "properties": {}}}


def list_through(store: PinStore, tools: list, server: str = "srv") -> None:
    s = Session(session_id="s", server=server)
    req = PendingRequest(1, "tools/list", Direction.CLIENT_TO_SERVER, {})
    icpt = IntegrityInterceptor(ChainContext(s), store=store)
    icpt.configure(IntegritySettings())
    icpt.inspect(
        Message(Direction.SERVER_TO_CLIENT, b"", {"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}, s, req)
    )


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_review_makes_invisible_characters_visible_in_the_diff(mcpwrap_home):
    store = PinStore()
    list_through(store, [TOOL])
    list_through(store, [{**TOOL, "description": "Returns a quote.\u200b\u202e"}])
    result = invoke("tools", "review")
    assert result.exit_code == 0, result.output
    assert '-description: "Returns a quote."' in result.output
    assert '+description: "Returns a quote.\\u200b\\u202e"' in result.output
    assert "invisible-characters" in result.output
    assert "mcpwrap tools approve srv quote" in result.output


def test_list_approve_all_and_reject(mcpwrap_home):
    store = PinStore()
    list_through(store, [TOOL], server="a")
    list_through(store, [TOOL], server="b")
    list_through(store, [{**TOOL, "description": "Changed."}], server="a")
    list_through(store, [{**TOOL, "description": "Changed too."}], server="b")
    rows = [json.loads(line) for line in invoke("tools", "list", "--json").output.splitlines()]
    assert {(r["server"], r["status"]) for r in rows} == {("a", "held"), ("b", "held")}
    assert all(r["also_on"] for r in rows)  # same tool name on both servers is reported
    assert "approved: a / quote" in invoke("tools", "approve", "a", "--all").output
    assert "rejected: b / quote" in invoke("tools", "reject", "b", "quote").output
    statuses = {r["server"]: r["status"] for r in map(json.loads, invoke("tools", "list", "--json").output.splitlines())}
    assert statuses == {"a": "approved", "b": "approved"}  # b keeps its original approval; the change is rejected
    assert store.load("b")["entries"]["tool:quote"]["rejected"]
    assert "nothing to approve" in invoke("tools", "approve", "--all").output


def test_usage_errors_are_plain_messages(mcpwrap_home):
    result = invoke("tools", "approve", "srv")
    assert result.exit_code == 2 and "--all" in result.output
    assert "Traceback" not in result.output


def test_list_is_plain_and_whole_when_not_a_terminal(mcpwrap_home):
    store = PinStore()
    long_name = "a_tool_whose_name_is_long_enough_to_be_cut_at_eighty_columns_" + "x" * 40
    list_through(store, [TOOL, {**TOOL, "name": long_name}], server="a-server-with-a-long-name")
    result = runner.invoke(app, ["tools", "list"], env={"COLUMNS": "80"})  # a pipe, however wide the terminal
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if long_name in line)
    assert len(row) > 80 and "a-server-with-a-long-name" in row and "approved" in row  # one line, nothing cut
    assert not any(ch in result.stdout for ch in "│┃━─…") and "\x1b[" not in result.stdout
