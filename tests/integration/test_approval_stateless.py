"""Approval for stateless 2026-07-28 clients: input_required + HMAC-protected requestState, on mcp-server-time."""

from __future__ import annotations

import base64
import json

import anyio
import pytest
from approval_rig import wait_for_code
from approval_support import approval_command, approval_env, approval_records, cli_at_terminal, screen_of
from mcp import Client, StdioServerParameters, types
from rig import TIME, child_env, read_audit, wrap_command

from mcpwrap.interceptors.approval import FAST_ANSWER_SECONDS

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
    await anyio.sleep(FAST_ANSWER_SECONDS + 0.3)  # a person reads the form, then declines
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


async def test_an_approved_call_is_not_replayed_with_another_request_state(tmp_path, mcpwrap_home):
    """With a real policy: the approval covers one call. The same call again with any requestState attached (four
    replays worked on the old design, through the "continuation" of an approved call) is a new call, asked again."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"rules:\n  - {{name: confirm-time, action: approve, match: {{tools: [{TOOL}]}}}}\n  - {{name: everything-else, action: allow}}\n")
    audit = tmp_path / "audit.jsonl"
    cmd = wrap_command(TIME, "--policy", str(policy), audit_log=audit)
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=child_env(MCPWRAP_HOME=str(mcpwrap_home)))
    async with Client(params, elicitation_callback=_approve) as client:
        session = client.session
        first = await session.call_tool(TOOL, ARGS, allow_input_required=True)
        ok = await session.call_tool(TOOL, ARGS, input_responses=APPROVED, request_state=first.request_state, allow_input_required=True)
        assert not ok.is_error
        for state in ("anything", "server-opaque", "x"):
            again = await session.call_tool(TOOL, ARGS, input_responses={"k": {"action": "accept"}}, request_state=state, allow_input_required=True)
            # mcpwrap asks a person again (its own input request): the server never sees the call
            assert isinstance(again, types.InputRequiredResult) and set(again.input_requests) == {"mcpwrap.approval"}, state
    records = read_audit(audit)
    assert len([r for r in records if r["event"] == "hold-released"]) == 1  # the approved call, once
    passed = [r for r in records if r.get("event") == "message" and r.get("kind") == "request" and r.get("tool") == TOOL and r.get("action") == "pass"]
    assert passed == []  # no retry went through as a "continuation"


async def test_a_stateless_decline_faster_than_a_person_falls_back_to_the_terminal(tmp_path, mcpwrap_home):
    async def declines_unseen(ctx, params):
        return types.ElicitResult(action="decline")

    async with _client(tmp_path, mcpwrap_home, declines_unseen) as client:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                box["result"] = await client.call_tool(TOOL, ARGS)

            tg.start_soon(call)
            approval_id, code = await anyio.to_thread.run_sync(wait_for_code, screen_of(mcpwrap_home))
            rc, out = await anyio.to_thread.run_sync(lambda: cli_at_terminal(mcpwrap_home, "approve", approval_id, code=code))
            assert rc == 0 and 'timezone: "UTC"' in out, out
    assert not box["result"].is_error and box["result"].structured_content["timezone"] == "UTC"
    statuses = [(r["status"], r.get("channel")) for r in approval_records(read_audit(tmp_path / "audit.jsonl"))]
    assert statuses[0] == ("requested", "stateless") and statuses[-1] == ("approved", "terminal")
    assert ("channel-failed", "stateless") in statuses
