"""Hot reload through the real process: a file change or SIGHUP swaps the policy for new messages, an invalid
file keeps the old one, and no message is dropped while it happens."""

from __future__ import annotations

import os
import signal
import time

import anyio
import pytest
from rig import EVERYTHING, read_audit, sdk_session, wrap_command

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ALLOW_ECHO = "default_action: allow\nrules:\n  - name: echo-ok\n    action: allow\n    match: {tools: [echo]}\n"
DENY_ECHO = "default_action: allow\nrules:\n  - name: no-echo\n    action: deny\n    match: {tools: [echo]}\n"
RELOAD_WAIT = 15.0  # the watcher polls once a second; a loaded machine may take longer


def blocked_rule(result) -> str | None:
    meta = (result.model_dump(by_alias=True).get("_meta") or {}).get("mcpwrap") or {}
    return meta.get("rule") if meta.get("action") == "block" else None


def replace_file(path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def wait_for_reloads(audit, count: int) -> list[dict]:
    deadline = time.monotonic() + RELOAD_WAIT
    while time.monotonic() < deadline:
        reloads = [r for r in read_audit(audit) if r.get("event") == "policy-reload"]
        if len(reloads) >= count:
            return reloads
        await anyio.sleep(0.1)
    raise AssertionError(f"expected {count} policy-reload records, got {len(reloads)}")


def wrapper_pid(audit) -> int:
    """mcpwrap's pid: the parent of the server it started (the session-start record names the server)."""
    child = next(r["pid"] for r in read_audit(audit) if r.get("event") == "session-start")
    with open(f"/proc/{child}/status") as fh:
        return int(next(line.split()[1] for line in fh if line.startswith("PPid:")))


async def test_reload_under_traffic(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(ALLOW_ECHO)
    audit = tmp_path / "audit.jsonl"
    sent = answered = 0
    outcomes: list[tuple[int, str | None]] = []
    stop = anyio.Event()

    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=audit)) as s:

        async def traffic() -> None:
            nonlocal sent, answered
            while not stop.is_set():
                sent += 1
                index = sent
                result = await s.call_tool("echo", {"message": f"m{index}"})
                answered += 1
                outcomes.append((index, blocked_rule(result)))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(traffic)
            # An invalid file: the previous policy stays, and the audit log says why.
            replace_file(policy, "rules:\n  - name: broken\n    action: maybe\n")
            first = await wait_for_reloads(audit, 1)
            assert first[0]["ok"] is False and "action" in first[0]["reason"]
            assert blocked_rule(await s.call_tool("echo", {"message": "still allowed"})) is None
            # A valid change applies to the next messages.
            replace_file(policy, DENY_ECHO)
            second = await wait_for_reloads(audit, 2)
            assert second[1]["ok"] is True
            assert blocked_rule(await s.call_tool("echo", {"message": "now denied"})) == "no-echo"
            await anyio.sleep(0.3)
            stop.set()
    assert answered == sent > 20  # every call got exactly one answer while the policy changed under it
    in_send_order = [rule for _, rule in sorted(outcomes)]
    assert in_send_order[0] is None and in_send_order[-1] == "no-echo"
    # In the order the calls were sent: allowed up to the swap, denied from then on — never a mix.
    first_denied = in_send_order.index("no-echo")
    assert all(o == "no-echo" for o in in_send_order[first_denied:])
    assert all(o is None for o in in_send_order[:first_denied])


async def test_sighup_reloads(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(ALLOW_ECHO)
    audit = tmp_path / "audit.jsonl"
    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=audit)) as s:
        assert blocked_rule(await s.call_tool("echo", {"message": "a"})) is None
        os.kill(wrapper_pid(audit), signal.SIGHUP)
        reloads = await wait_for_reloads(audit, 1)
        assert reloads[0]["ok"] is True
        assert blocked_rule(await s.call_tool("echo", {"message": "b"})) is None  # the relay lives on


async def test_an_override_written_during_a_session_applies(tmp_path, mcpwrap_home):
    """What the approval interceptor does for "remember always": the running wrapper picks the rule up."""
    from mcpwrap._state.overrides import add_rule

    policy = tmp_path / "policy.yaml"
    policy.write_text(DENY_ECHO)
    audit = tmp_path / "audit.jsonl"
    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), "--name", "everything", audit_log=audit)) as s:
        assert blocked_rule(await s.call_tool("echo", {"message": "a"})) == "no-echo"
        add_rule({"name": "always-echo-hello", "action": "allow",
                  "match": {"servers": ["everything"], "tools": ["echo"], "arguments": {"message": ["hello"]}}})
        reloads = await wait_for_reloads(audit, 1)
        assert reloads[0]["ok"] is True
        assert blocked_rule(await s.call_tool("echo", {"message": "hello"})) is None
        assert blocked_rule(await s.call_tool("echo", {"message": "other"})) == "no-echo"
    allowed = [
        r for r in read_audit(audit) if r.get("event") == "message" and r.get("tool") == "echo" and r.get("action") == "pass" and r.get("kind") == "request"
    ]
    assert [r["rule"] for r in allowed] == ["always-echo-hello"]


async def test_a_reload_keeps_what_the_chain_learned(tmp_path):
    """A reload reconfigures the running interceptors: a rate-limit bucket emptied before it stays empty."""
    limited = "default_action: allow\nrate_limits:\n  - {name: one-echo, tools: [echo], per_minute: 1}\n"
    policy = tmp_path / "policy.yaml"
    policy.write_text(limited)
    audit = tmp_path / "audit.jsonl"
    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=audit)) as s:
        assert not (await s.call_tool("echo", {"message": "first"})).is_error
        assert blocked_rule(await s.call_tool("echo", {"message": "second"})) == "rate-limit:one-echo"
        replace_file(policy, limited + "# edited\n")
        await wait_for_reloads(audit, 1)
        assert blocked_rule(await s.call_tool("echo", {"message": "after reload"})) == "rate-limit:one-echo"
