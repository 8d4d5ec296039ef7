"""Approval for stateless 2026-07-28 clients: input_required + HMAC-protected requestState, on mcp-server-time."""

from __future__ import annotations

import base64
import json

import pytest
from approval_support import approval_command, approval_env, approval_records
from mcp import Client, StdioServerParameters, types
from rig import TIME, read_audit

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TOOL = "get_current_time"
ARGS = {"timezone": "UTC"}


def _client(tmp_path, home, elicit, **script):
    cmd = approval_command(TIME, audit_log=tmp_path / "audit.jsonl")
    env = approval_env(home, tools=[TOOL], **script)
    return Client(StdioServerParameters(command=cmd[0], args=cmd[1:], env=env), elicitation_callback=elicit)


async def _approve(ctx, params):
    _approve.seen.append(params)
    return types.ElicitResult(action="accept", content={"decision": "approve"})


_approve.seen = []


async def _decline(ctx, params):
    return types.ElicitResult(action="decline")


def _blocked(result) -> bool:
    return result.is_error is True and (result.meta or {}).get("mcpwrap", {}).get("action") == "block"


async def test_sdk_client_approves_through_input_required(tmp_path, mcpwrap_home):
    _approve.seen.clear()
    async with _client(tmp_path, mcpwrap_home, _approve) as client:
        assert client.protocol_version == "2026-07-28"
        result = await client.call_tool(TOOL, ARGS)
    assert not result.is_error
    assert result.structured_content["timezone"] == "UTC"
    (params,) = _approve.seen
    assert "Tool: get_current_time" in params.message and 'timezone: "UTC"' in params.message
    records = read_audit(tmp_path / "audit.jsonl")
    assert [(r["status"], r["channel"]) for r in approval_records(records)] == [("requested", "stateless"), ("approved", "stateless")]
    # The server got the call once, under the retry's id, without mcpwrap's fields.
    released = [r for r in records if r["event"] == "hold-released"]
    assert len(released) == 1
    calls = [r for r in records if r.get("event") == "message" and r.get("method") == "tools/call" and r.get("direction") == "s2c"]
    assert len(calls) == 1 and calls[0]["id"] == released[0]["id"]


async def test_declined_input_is_the_block_contract(tmp_path, mcpwrap_home):
    async with _client(tmp_path, mcpwrap_home, _decline) as client:
        result = await client.call_tool(TOOL, ARGS)
    assert _blocked(result) and "did not approve" in result.content[0].text
    assert result.result_type == "complete"
    assert not any(r["event"] == "hold-released" for r in read_audit(tmp_path / "audit.jsonl"))


def _tamper(state: str) -> str:
    prefix, rest = state[: len("mcpwrap1.")], state[len("mcpwrap1.") :]
    body, mac = rest.rsplit(".", 1)
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["params"]["arguments"]["timezone"] = "Europe/Paris"  # what a forger would change
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return prefix + forged + "." + mac


APPROVED = {"mcpwrap.approval": {"action": "accept", "content": {"decision": "approve"}}}


@pytest.mark.parametrize(
    "how",
    ["forged", "damaged-mac", "made-up", "replayed", "other-arguments"],
)
async def test_forged_or_replayed_state_is_refused(tmp_path, mcpwrap_home, how):
    async with _client(tmp_path, mcpwrap_home, _approve) as client:
        session = client.session
        first = await session.call_tool(TOOL, ARGS, allow_input_required=True)
        assert isinstance(first, types.InputRequiredResult)
        assert set(first.input_requests) == {"mcpwrap.approval"}
        state = first.request_state
        args = ARGS
        if how == "forged":
            state, args = _tamper(state), {"timezone": "Europe/Paris"}
        elif how == "damaged-mac":
            state = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
        elif how == "made-up":
            state = "mcpwrap1.eyJ2IjoxfQ.AAAA"
        elif how == "replayed":
            ok = await session.call_tool(TOOL, ARGS, input_responses=APPROVED, request_state=state, allow_input_required=True)
            assert not ok.is_error  # the genuine retry runs once
        elif how == "other-arguments":
            args = {"timezone": "Asia/Tokyo"}
        result = await session.call_tool(TOOL, args, input_responses=APPROVED, request_state=state, allow_input_required=True)
    assert _blocked(result)
    assert "not valid" in result.content[0].text
    records = read_audit(tmp_path / "audit.jsonl")
    refused = [r for r in records if r.get("rule") == "approval-state" and r.get("action") == "block"]
    assert len(refused) == 1
    released = [r for r in records if r["event"] == "hold-released"]
    assert len(released) == (1 if how == "replayed" else 0)


async def test_approval_without_state_asks_again(tmp_path, mcpwrap_home):
    """A retry that claims approval but carries no state of mcpwrap's is just a new call: a person is asked."""
    async with _client(tmp_path, mcpwrap_home, _approve) as client:
        result = await client.session.call_tool(TOOL, ARGS, input_responses=APPROVED, allow_input_required=True)
    assert isinstance(result, types.InputRequiredResult)
