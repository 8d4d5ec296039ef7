"""Approval through MCP elicitation: the official SDK client answers mcpwrap's form; a real server runs the call."""

from __future__ import annotations

import anyio
import pytest
from approval_support import approval_command, approval_env, approval_records, write_policy
from mcp import types
from rig import EVERYTHING, read_audit, sdk_session

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _answer(action: str, **content):
    async def elicit(ctx, params):
        elicit.seen.append(params)
        return types.ElicitResult(action=action, content=content or None)

    elicit.seen = []
    return elicit


def _blocked(result) -> bool:
    meta = result.meta or {}
    return result.is_error is True and meta.get("mcpwrap", {}).get("action") == "block"


async def test_approve_forwards_the_call_and_records_it(tmp_path, mcpwrap_home):
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"], rule="confirm-echo", reason="echo needs a person")
    elicit = _answer("accept", decision="approve", remember="once")
    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env, elicitation_callback=elicit) as s:
        result = await s.call_tool("echo", {"message": "held then approved"})
    assert not result.is_error
    assert result.content[0].text == "Echo: held then approved"
    # What the person saw: server, tool, arguments, rule and why — and the form.
    (params,) = elicit.seen
    assert "mcp-server-everything" in params.message and "Tool: echo" in params.message
    assert 'message: "held then approved"' in params.message
    assert "confirm-echo — echo needs a person" in params.message
    assert params.requested_schema["properties"]["decision"]["enum"] == ["approve", "deny"]
    records = read_audit(audit)
    statuses = [(r["status"], r.get("channel")) for r in approval_records(records)]
    assert statuses == [("requested", "elicitation"), ("approved", "elicitation")]
    approved = approval_records(records)[-1]
    assert approved["remember"] == "once" and approved["wait_ms"] >= 0 and approved["rule"] == "confirm-echo"
    # The elicitation exchange never reached the server: its id is mcpwrap's, answered to mcpwrap.
    own = [r for r in records if r["event"] in ("own-request", "own-response")]
    assert [r["event"] for r in own] == ["own-request", "own-response"]
    assert own[0]["id"].startswith("mcpwrap-") and own[0]["id"] == own[1]["id"]
    assert not any(r.get("event") == "message" and r.get("id") == own[0]["id"] for r in records)


@pytest.mark.parametrize(
    "action, content, choice",
    [
        ("decline", {}, "decline"),
        ("cancel", {}, "cancel"),
        ("accept", {"decision": "deny"}, "chose deny"),
        ("accept", {}, "chose deny"),  # accepted an empty form: not an approval
    ],
)
async def test_anything_but_approve_is_the_block_contract(tmp_path, mcpwrap_home, action, content, choice):
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])
    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env, elicitation_callback=_answer(action, **content)) as s:
        result = await s.call_tool("echo", {"message": "must not run"})
        assert _blocked(result)
        assert "did not approve" in result.content[0].text
        # The session goes on: a call the rule does not cover still works.
        ok = await s.call_tool("get-sum", {"a": 1, "b": 2})
        assert not ok.is_error
    records = read_audit(audit)
    denied = approval_records(records)[-1]
    assert denied["status"] == "denied" and denied["choice"] == choice
    # The server never saw the call: no released hold and no response from the server for it.
    held_id = next(r["id"] for r in records if r.get("action") == "hold")
    assert not any(r["event"] == "hold-released" for r in records)
    assert not any(r.get("direction") == "s2c" and r.get("id") == held_id and r["event"] == "message" for r in records)


async def test_remember_session_asks_once(tmp_path, mcpwrap_home):
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])
    elicit = _answer("accept", decision="approve", remember="session")
    async with sdk_session(approval_command(EVERYTHING, audit_log=tmp_path / "a.jsonl"), env=env, elicitation_callback=elicit) as s:
        first = await s.call_tool("echo", {"message": "one"})
        second = await s.call_tool("echo", {"message": "two"})
    assert first.content[0].text == "Echo: one" and second.content[0].text == "Echo: two"
    assert len(elicit.seen) == 1


async def test_traffic_keeps_flowing_while_a_call_is_held(tmp_path, mcpwrap_home):
    """While the person looks at the form, other calls run — including the server's own sampling request."""
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])
    sampled = []

    async def sampling(ctx, params):
        sampled.append(params)
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled"), model="test")

    during: dict = {}
    sessions: list = []

    async def elicit(ctx, params):  # the person takes a while; the agent meanwhile uses the same server
        s = sessions[0]
        during["sum"] = await s.call_tool("get-sum", {"a": 2, "b": 3})
        during["sampling"] = await s.call_tool("trigger-sampling-request", {"prompt": "hello", "maxTokens": 5})
        return types.ElicitResult(action="accept", content={"decision": "approve"})

    cmd = approval_command(EVERYTHING, audit_log=tmp_path / "a.jsonl")
    async with sdk_session(cmd, env=env, sampling_callback=sampling, elicitation_callback=elicit) as s:
        sessions.append(s)
        with anyio.fail_after(60):
            result = await s.call_tool("echo", {"message": "after the others"})
    assert result.content[0].text == "Echo: after the others"
    assert "5" in during["sum"].content[0].text
    assert not during["sampling"].is_error and sampled


async def test_progress_keeps_a_client_waiting(tmp_path, mcpwrap_home):
    policy = write_policy(tmp_path / "policy.yaml", progress_interval=0.2)
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])
    progress: list[float] = []

    async def on_progress(value, total, message):
        progress.append(value)

    async def slow_person(ctx, params):
        await anyio.sleep(1.5)
        return types.ElicitResult(action="accept", content={"decision": "approve"})

    cmd = approval_command(EVERYTHING, "--policy", str(policy), audit_log=tmp_path / "a.jsonl")
    async with sdk_session(cmd, env=env, elicitation_callback=slow_person) as s:
        result = await s.call_tool("echo", {"message": "slow"}, progress_callback=on_progress)
    assert result.content[0].text == "Echo: slow"
    assert len(progress) >= 2 and progress == sorted(progress)


async def test_remember_always_writes_an_override_rule(tmp_path, mcpwrap_home):
    import yaml

    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])
    elicit = _answer("accept", decision="approve", remember="always")
    async with sdk_session(approval_command(EVERYTHING, "--name", "everything", audit_log=audit), env=env, elicitation_callback=elicit) as s:
        result = await s.call_tool("echo", {"message": "always *this*"})
        again = await s.call_tool("echo", {"message": "always *this*"})
    assert result.content[0].text == again.content[0].text == "Echo: always *this*"
    assert len(elicit.seen) == 1
    assert elicit.seen[0].requested_schema["properties"]["remember"]["enum"] == ["once", "session", "always"]
    doc = yaml.safe_load((mcpwrap_home / "policy.overrides.yaml").read_text())
    (rule,) = doc["rules"]
    assert rule["action"] == "allow"
    assert rule["match"] == {"servers": ["everything"], "tools": ["echo"], "arguments": {"message": "always [*]this[*]"}}
    remembered = [r for r in read_audit(audit) if r["event"] == "approval-remembered"]
    assert len(remembered) == 1 and remembered[0]["file"].endswith("policy.overrides.yaml")
