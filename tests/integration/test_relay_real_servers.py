"""The real mcpwrap process between the official SDK client and real servers: faithful in every era."""

from __future__ import annotations

import base64
import json

import anyio
import mcp_types as types
import pytest
from rig import EVERYTHING, TIME, RawPeer, read_audit, sdk_client, sdk_session, wrap_command

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _raw_listing(command: list[str]) -> tuple[bytes, bytes]:
    """initialize + tools/list over raw lines; the exact bytes of both responses."""
    with RawPeer(command) as peer:
        peer.send(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
            }
        )
        init = _await_id(peer, 0)
        peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        listing = _await_id(peer, 1)
        return init, listing


def _await_id(peer: RawPeer, msg_id: int) -> bytes:
    while True:
        line = peer.recv_line()
        msg = json.loads(line)
        if msg.get("id") == msg_id and "method" not in msg:
            return line


@pytest.mark.parametrize("server", [EVERYTHING, TIME], ids=["server-everything", "mcp-server-time"])
def test_tools_list_is_byte_identical_wrapped_and_direct(server, tmp_path):
    direct_init, direct_list = _raw_listing(server)
    wrapped_init, wrapped_list = _raw_listing(wrap_command(server, audit_log=tmp_path / "a.jsonl"))
    assert wrapped_list == direct_list
    assert wrapped_init == direct_init
    records = [r for r in read_audit(tmp_path / "a.jsonl") if r["event"] == "message"]
    assert [(r["direction"], r["method"], r["action"]) for r in records if r["method"] == "tools/list"] == [
        ("c2s", "tools/list", "pass"),
        ("s2c", "tools/list", "pass"),
    ]


async def test_server_everything_features_through_mcpwrap(tmp_path):
    """Tools, progress, a large image, and server→client sampling/elicitation/roots while a call is pending."""
    audit = tmp_path / "audit.jsonl"
    seen: dict[str, int] = {"sampling": 0, "elicitation": 0, "roots": 0}

    async def sampling(ctx, params):
        seen["sampling"] += 1
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled!"), model="test-model")

    async def elicitation(ctx, params):
        seen["elicitation"] += 1
        return types.ElicitResult(action="accept", content={"color": "blue"} if False else {})

    async def roots(ctx):
        seen["roots"] += 1
        return types.ListRootsResult(roots=[types.Root(uri="file:///tmp/project", name="project")])

    async with sdk_session(
        wrap_command(EVERYTHING, "--name", "everything", audit_log=audit),
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        list_roots_callback=roots,
    ) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"echo", "get-sum", "get-tiny-image", "trigger-long-running-operation", "trigger-sampling-request", "get-roots-list"} <= tools

        echo = await session.call_tool("echo", {"message": 'héllo \u2028 "quoted"'})
        assert echo.content[0].text == 'Echo: héllo \u2028 "quoted"'
        total = await session.call_tool("get-sum", {"a": 2, "b": 40})
        assert "42" in total.content[0].text

        image = await session.call_tool("get-tiny-image", {})
        images = [c for c in image.content if c.type == "image"]
        assert images and base64.b64decode(images[0].data)[:4] == b"\x89PNG"

        progress: list[float] = []

        async def on_progress(p, total, message):
            progress.append(p)

        await session.call_tool("trigger-long-running-operation", {"duration": 1, "steps": 4}, progress_callback=on_progress)
        assert progress == [1, 2, 3, 4]

        sampled = await session.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 10})
        assert "sampled!" in json.dumps(sampled.model_dump())
        listed = await session.call_tool("get-roots-list", {})
        assert "file:///tmp/project" in json.dumps(listed.model_dump())
        if "trigger-elicitation-request" in tools:
            await session.call_tool("trigger-elicitation-request", {})

    assert seen["sampling"] == 1 and seen["roots"] >= 1
    records = [r for r in read_audit(audit) if r["event"] == "message"]
    # server→client requests were tracked in their own id space and matched to their responses
    s2c_requests = {(r["id"], r["method"]) for r in records if r["direction"] == "s2c" and r["kind"] == "request"}
    assert any(m == "sampling/createMessage" for _, m in s2c_requests)
    answered = {(r["id"], r["method"]) for r in records if r["direction"] == "c2s" and r["kind"] == "result"}
    assert s2c_requests <= answered
    # everything passed as it was, but a server's own form: labelled with its origin (no form passes for mcpwrap's)
    labelled = [r for r in records if r["action"] != "pass"]
    assert all(r["method"] == "elicitation/create" and r["action"] == "modify" and r["rule"] == "approval-form-origin" for r in labelled), labelled
    assert all(r["server"] == "everything" for r in records)
    calls = [r for r in records if r["direction"] == "s2c" and r["method"] == "tools/call"]
    assert all(isinstance(r["latency_ms"], float) for r in calls)


async def test_stateless_2026_07_28_session_with_mcp_server_time(tmp_path):
    audit = tmp_path / "audit.jsonl"
    async with sdk_client(wrap_command(TIME, audit_log=audit)) as client:
        assert client.protocol_version == "2026-07-28"
        tools = await client.list_tools()
        assert "get_current_time" in {t.name for t in tools.tools}
        result = await client.call_tool("get_current_time", {"timezone": "UTC"})
        assert json.loads(result.content[0].text)["timezone"] == "UTC"
    records = [r for r in read_audit(audit) if r["event"] == "message"]
    methods = [r["method"] for r in records if r["direction"] == "c2s"]
    assert "server/discover" in methods and "tools/call" in methods
    # The SDK probes with server/discover and initialize at once; the stateless server refuses initialize
    # itself (an error from the server, relayed) and the session goes on without it.
    init_answers = [r for r in records if r["direction"] == "s2c" and r["method"] == "initialize"]
    assert all(r["kind"] == "error" for r in init_answers)
    assert all(r["action"] == "pass" for r in records)


async def test_stateless_and_direct_answers_agree(tmp_path):
    async with sdk_client(TIME) as direct, sdk_client(wrap_command(TIME, audit_log=tmp_path / "a.jsonl")) as wrapped:
        a = await direct.list_tools()
        b = await wrapped.list_tools()
        assert a.model_dump() == b.model_dump()
        conv_a = await direct.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})
        conv_b = await wrapped.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})
        assert json.loads(conv_a.content[0].text)["target"] == json.loads(conv_b.content[0].text)["target"]


async def test_many_concurrent_calls_are_each_answered(tmp_path):
    async with sdk_session(wrap_command(EVERYTHING, audit_log=tmp_path / "a.jsonl")) as session:
        results: dict[int, str] = {}

        async def call(i: int) -> None:
            r = await session.call_tool("echo", {"message": f"m{i}"})
            results[i] = r.content[0].text

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(call, i)
    assert results == {i: f"Echo: m{i}" for i in range(50)}
