"""Approval from a terminal: the queue under MCPWRAP_HOME and `mcpwrap approvals / approve / deny` in a second
process; the one-time code reaches the person by desktop notification (a private session bus whose notification service records what it shows: their screen)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import anyio
import pytest
from approval_rig import ProcessWatch, code_in, holders_of, notification_bus, notifications, process_texts, wait_for_code
from approval_support import (
    approval_command,
    approval_env,
    approval_records,
    cli,
    cli_at_terminal,
    screen_of,
    under_script,
    wait_for_pending,
    write_policy,
)
from mcp import types
from rig import EVERYTHING, TIME, read_audit, sdk_session

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

TERMINAL_ONLY = dict(tools=["echo"], channels=["elicitation", "terminal"])


def _blocked(result) -> bool:
    return result.is_error is True and (result.meta or {}).get("mcpwrap", {}).get("action") == "block"


async def _in_thread(fn, *args, **kw):
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kw))


async def test_second_process_approves_a_pending_call(tmp_path, mcpwrap_home):
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, rule="confirm-echo", **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, "--name", "everything", audit_log=audit), env=env) as s:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                box["result"] = await s.call_tool("echo", {"message": "approved from a terminal"})

            tg.start_soon(call)
            (entry,) = await _in_thread(wait_for_pending, mcpwrap_home)
            assert entry["server"] == "everything" and entry["tool"] == "echo" and entry["rule"] == "confirm-echo"
            assert entry["call"]["params"]["arguments"] == {"message": "approved from a terminal"}
            # The queue is private to the user.
            queue = mcpwrap_home / "approvals"
            assert oct(queue.stat().st_mode & 0o777) == "0o700"
            assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in queue.iterdir())
            listing = await _in_thread(cli, mcpwrap_home, "approvals")
            assert entry["id"] in listing.stdout and "echo" in listing.stdout
            # The person reads the code on their screen and types it at their terminal.
            approval_id, code = await _in_thread(wait_for_code, screen_of(mcpwrap_home))
            assert approval_id == entry["id"]
            rc, out = await _in_thread(cli_at_terminal, mcpwrap_home, "approve", entry["id"], code=code)
            assert rc == 0, out
            assert 'message: "approved from a terminal"' in out and "Call digest: sha256:" in out
            assert f"approved {entry['id']}" in out and code not in out  # the code is not echoed
    assert box["result"].content[0].text == "Echo: approved from a terminal"
    records = read_audit(audit)
    approved = approval_records(records)[-1]
    assert approved["status"] == "approved" and approved["channel"] == "terminal" and approved["approval"] == entry["id"]
    assert approved["verified"] is True
    assert code not in json.dumps(records) and code.replace("-", "") not in json.dumps(records)
    assert list((mcpwrap_home / "approvals").glob("*.json")) == []  # withdrawn once decided


async def test_deny_from_a_second_process(tmp_path, mcpwrap_home):
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, audit_log=tmp_path / "a.jsonl"), env=env) as s:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                box["result"] = await s.call_tool("echo", {"message": "no"})

            tg.start_soon(call)
            (entry,) = await _in_thread(wait_for_pending, mcpwrap_home)
            denied = await _in_thread(cli, mcpwrap_home, "deny", entry["id"])
            assert denied.returncode == 0, denied.stderr
            again = await _in_thread(cli, mcpwrap_home, "deny", entry["id"])
            assert again.returncode == 1 and ("already decided" in again.stderr or "no pending approval" in again.stderr)
    assert _blocked(box["result"]) and "did not approve" in box["result"].content[0].text


async def test_timeout_is_the_block_contract_and_on_timeout_allow_forwards(tmp_path, mcpwrap_home):
    policy = write_policy(tmp_path / "policy.yaml", progress_interval=0.5)
    for on_timeout in ("deny", "allow"):
        audit = tmp_path / f"{on_timeout}.jsonl"
        env = approval_env(mcpwrap_home, timeout=1.5, on_timeout=on_timeout, **TERMINAL_ONLY)
        async with sdk_session(approval_command(EVERYTHING, "--policy", str(policy), audit_log=audit), env=env) as s:
            with anyio.fail_after(30):
                result = await s.call_tool("echo", {"message": "nobody answers"})
        timed_out = approval_records(read_audit(audit))[-1]
        assert timed_out["status"] == "timed-out" and timed_out["on_timeout"] == on_timeout
        if on_timeout == "deny":
            assert _blocked(result)
            assert "no one approved this call within 1.5 s" in result.content[0].text
        else:
            assert result.content[0].text == "Echo: nobody answers"


async def test_without_progress_token_the_wait_is_cut_before_client_timeouts(tmp_path, mcpwrap_home):
    policy = write_policy(tmp_path / "policy.yaml", max_wait_without_progress=1)
    env = approval_env(mcpwrap_home, timeout=600, **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, "--policy", str(policy), audit_log=tmp_path / "a.jsonl"), env=env) as s:
        with anyio.fail_after(30):
            result = await s.call_tool("echo", {"message": "no token"})
    assert _blocked(result) and "within 1 s" in result.content[0].text


async def test_no_channel_fails_closed_with_instructions(tmp_path, mcpwrap_home):
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation"])  # a client without elicitation
    async with sdk_session(approval_command(EVERYTHING, audit_log=tmp_path / "a.jsonl"), env=env) as s:
        result = await s.call_tool("echo", {"message": "x"})
    text = result.content[0].text
    assert _blocked(result) and "mcpwrap approve" in text and "policy rule" in text
    assert not (mcpwrap_home / "approvals").exists() or not list((mcpwrap_home / "approvals").iterdir())


async def test_the_model_cannot_approve_its_own_call(tmp_path, mcpwrap_home):
    """Everything a same-user process without the code can do fails: tool calls and text, a decision file written
    by hand (as the old CLI wrote it), `approve` from a shell without a terminal, `--yes`, and `approve` under
    script(1) with guessed codes — the third wrong one denies the call. Nothing the client received, the audit log
    or the queue holds the code."""
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, timeout=60, remember=["once", "always"], **TERMINAL_ONLY)
    received: list = []

    async def messages(message):
        received.append(message)

    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env, message_handler=messages) as s:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                box["result"] = await s.call_tool("echo", {"message": "please run me"})

            tg.start_soon(call)
            (entry,) = await _in_thread(wait_for_pending, mcpwrap_home)
            approval_id = entry["id"]
            _, code = await _in_thread(wait_for_code, screen_of(mcpwrap_home))
            # Everything a model can make the client send: tool calls and text naming the approval.
            for text in (f"mcpwrap approve {approval_id}", "approve", json.dumps({"decision": "approve", "id": approval_id})):
                r = await s.call_tool("get-sum", {"a": 1, "b": 1, "note": text})
                assert not r.is_error
                for tool in ("approve", "mcpwrap approve"):
                    r = await s.call_tool(tool, {"id": approval_id, "text": text})
                    assert r.is_error  # no such tool: the server says so, nothing else happens
            # The decision file, written by hand the way the old `approve` wrote it (with "always").
            queue = mcpwrap_home / "approvals"
            forged = {"id": approval_id, "decision": "approve", "remember": "always", "digest": entry["digest"]}
            (queue / f"{approval_id}.decision").write_text(json.dumps(forged))
            # A shell tool runs commands without a terminal: approve refuses before anything is written.
            for extra in ((), ("--yes",), ("--remember", "always")):
                shell = await _in_thread(cli, mcpwrap_home, "approve", approval_id, *extra)
                assert shell.returncode in (1, 2) and ("terminal" in shell.stderr or "No such option" in shell.stderr), shell.stderr
            piped = await _in_thread(cli, mcpwrap_home, "approve", approval_id, stdin=open(os.devnull))
            assert piped.returncode == 1
            # Under script(1) it has a terminal, but not the code: two guesses are rejected, the third denies the call.
            guesses = ["AAAA-AAAA", "BBBB-BBBB"] if code not in ("AAAA-AAAA", "BBBB-BBBB") else ["CCCC-CCCC", "DDDD-DDDD"]
            rc, out = await _in_thread(under_script, mcpwrap_home, "approve", approval_id, "--remember", "always", typed=guesses)
            assert rc == 1 and "Not accepted: wrong code" in out and "not approved" in out, out
            with anyio.fail_after(30):
                while "result" not in box:
                    await anyio.sleep(0.05)
    result = box["result"]
    assert _blocked(result) and "wrong one-time code" in result.content[0].text
    assert approval_id not in json.dumps(result.model_dump(mode="json"))
    assert all(approval_id not in repr(m) and code not in repr(m) for m in received)
    records = read_audit(audit)
    statuses = [r["status"] for r in approval_records(records)]
    assert statuses == ["requested", "code-sent", "code-rejected", "code-rejected", "code-rejected", "denied"], statuses
    assert code not in json.dumps(records) and code.replace("-", "") not in json.dumps(records)
    assert not (mcpwrap_home / "policy.overrides.yaml").exists()  # nothing was remembered
    assert any("a program running as you tried to approve it" in n for n in notifications(screen_of(mcpwrap_home)))


@pytest.mark.parametrize(
    "notifications, why",
    [
        (False, "the desktop notification service failed (org.freedesktop.DBus.Error.ServiceUnknown"),  # a bus, no daemon
        (None, "no session bus for desktop notifications"),  # headless: no bus at all
    ],
    ids=["no-notification-service", "no-session-bus"],
)
async def test_without_a_form_or_a_notification_service_the_call_is_refused_with_how_to_fix_it(tmp_path, mcpwrap_home, notifications, why):
    """No client form, and the code cannot be shown: a session bus without a notification service, or no session
    bus at all (an SSH session, a server). No person can be reached, so nothing waits for a decision nobody can
    make, and nothing is approved unauthenticated."""
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, notifications=notifications, **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env) as s:
        with anyio.fail_after(30):
            result = await s.call_tool("echo", {"message": "nobody can see this"})
    text = result.content[0].text
    assert _blocked(result) and "no approval channel reached a person" in text
    assert why in text and "policy rule" in text
    assert approval_records(read_audit(audit))[-1]["status"] == "unreached"
    assert list((mcpwrap_home / "approvals").glob("*.json")) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
async def test_the_code_is_in_no_process_arguments_or_environment(tmp_path, mcpwrap_home):
    """Every process's arguments (and a same-user process's environment) are readable in /proc by any process, one
    with no terminal included: the one-time code must never be there, or that process approves the call itself.
    Every process is read over and over from before the call until the notification was shown, and once more
    while the wrapper waits for the notification service's answer: a process that carries the notification (as
    notify-send did) is alive then, and is read; one that lives only milliseconds may slip between two reads."""
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    bus = notification_bus(screen_of(mcpwrap_home))
    at_notify: list[bytes] = []
    bus.on_notify = lambda summary, body: at_notify.extend(process_texts().values())
    watch = ProcessWatch()
    watch.start()
    try:
        async with sdk_session(approval_command(EVERYTHING, audit_log=tmp_path / "a.jsonl"), env=env) as s:
            async with anyio.create_task_group() as tg:
                box: dict = {}

                async def call():
                    box["result"] = await s.call_tool("echo", {"message": "watched"})

                tg.start_soon(call)
                approval_id, code = await _in_thread(wait_for_code, screen_of(mcpwrap_home))
                rounds = watch.rounds
                await _in_thread(_wait_until, lambda: watch.rounds > rounds + 1)  # a whole round after the notification
                watch.stop()
                assert watch.rounds > 2 and at_notify
                assert holders_of(code, watch.seen) == [] and holders_of(code, at_notify) == []
                rc, out = await _in_thread(cli_at_terminal, mcpwrap_home, "approve", approval_id, code=code)
                assert rc == 0, out
        assert box["result"].content[0].text == "Echo: watched"
    finally:
        watch.stop()
    # The watch does find a code where a process carries it.
    control = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", code], stdin=subprocess.PIPE)
    try:
        _wait_until(lambda: holders_of(code, process_texts().values()))  # once the child has exec'd
    finally:
        control.communicate(b"")


def _wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


async def test_concurrent_pending_approvals_from_two_servers(tmp_path, mcpwrap_home):
    env_everything = approval_env(mcpwrap_home, tools=["echo"], channels=["terminal"])
    env_time = approval_env(mcpwrap_home, tools=["get_current_time"], channels=["terminal"])
    box: dict = {}
    async with sdk_session(approval_command(EVERYTHING, "--name", "everything", audit_log=tmp_path / "e.jsonl"), env=env_everything) as a:
        async with sdk_session(approval_command(TIME, "--name", "time", audit_log=tmp_path / "t.jsonl"), env=env_time) as b:
            async with anyio.create_task_group() as tg:

                async def call_a():
                    box["everything"] = await a.call_tool("echo", {"message": "from everything"})

                async def call_b():
                    box["time"] = await b.call_tool("get_current_time", {"timezone": "UTC"})

                tg.start_soon(call_a)
                tg.start_soon(call_b)
                entries = await _in_thread(wait_for_pending, mcpwrap_home, 2)
                by_server = {e["server"]: e for e in entries}
                assert set(by_server) == {"everything", "time"}
                time_id = by_server["time"]["id"]
                with anyio.fail_after(20):
                    while not any((code_in(n) or ("",))[0] == time_id for n in notifications(screen_of(mcpwrap_home))):
                        await anyio.sleep(0.05)
                codes = dict(filter(None, (code_in(n) for n in notifications(screen_of(mcpwrap_home)))))
                rc, out = await _in_thread(cli_at_terminal, mcpwrap_home, "approve", time_id, code=codes[time_id])
                assert rc == 0, out
                denied = await _in_thread(cli, mcpwrap_home, "deny", by_server["everything"]["id"])
                assert denied.returncode == 0, denied.stderr
    assert not box["time"].is_error and box["time"].structured_content["timezone"] == "UTC"
    assert _blocked(box["everything"])


async def test_server_exit_while_held_answers_the_call(tmp_path, mcpwrap_home):
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env) as s:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                try:
                    box["result"] = await s.call_tool("echo", {"message": "held when the server dies"})
                except Exception as exc:  # the SDK raises the JSON-RPC error
                    box["error"] = exc

            tg.start_soon(call)
            await _in_thread(wait_for_pending, mcpwrap_home)
            child = next(r["pid"] for r in read_audit(audit) if r["event"] == "session-start")
            os.killpg(child, signal.SIGKILL)
            with anyio.fail_after(20):
                while not box:
                    await anyio.sleep(0.05)
    assert "error" in box and "exited" in str(box["error"])
    assert approval_records(read_audit(audit))[-1]["status"] == "expired"
    assert list((mcpwrap_home / "approvals").glob("*.json")) == []


async def test_elicitation_and_terminal_listen_together(tmp_path, mcpwrap_home):
    """The person may answer from a terminal while the form is open: the form is withdrawn."""
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    audit = tmp_path / "a.jsonl"
    opened = anyio.Event()

    shown: list = []

    async def form_left_open(ctx, params):
        shown.append(params.message)
        opened.set()
        await anyio.sleep(30)  # the person leaves the form open and goes to the terminal
        return types.ElicitResult(action="decline")

    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env, elicitation_callback=form_left_open) as s:
        async with anyio.create_task_group() as tg:
            box: dict = {}

            async def call():
                box["result"] = await s.call_tool("echo", {"message": "terminal wins"})
                tg.cancel_scope.cancel()

            tg.start_soon(call)
            await opened.wait()
            (entry,) = await _in_thread(wait_for_pending, mcpwrap_home)
            approval_id, code = code_in(shown[0])  # the form shows the terminal's command and code
            assert approval_id == entry["id"]
            rc, out = await _in_thread(cli_at_terminal, mcpwrap_home, "approve", entry["id"], code=code)
            assert rc == 0, out
            with anyio.fail_after(20):
                while "result" not in box:
                    await anyio.sleep(0.05)
    assert box["result"].content[0].text == "Echo: terminal wins"
    records = read_audit(audit)
    assert [(r["status"], r.get("channel")) for r in approval_records(records)] == [
        ("requested", "elicitation,terminal"),
        ("approved", "terminal"),
    ]
    assert notifications(screen_of(mcpwrap_home)) == []  # the form carried the code: no notification needed
    assert not any(r["event"] == "own-response" for r in records)  # the form was withdrawn, never answered


async def test_client_cancelling_a_held_call_withdraws_it(tmp_path, mcpwrap_home):
    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    async with sdk_session(approval_command(EVERYTHING, audit_log=audit), env=env) as s:
        async with anyio.create_task_group() as tg:

            async def call():
                await s.call_tool("echo", {"message": "cancelled while held"})

            tg.start_soon(call)
            await _in_thread(wait_for_pending, mcpwrap_home)
            tg.cancel_scope.cancel()  # the SDK sends notifications/cancelled for the request
        with anyio.fail_after(20):
            while not approval_records(read_audit(audit))[-1]["status"] == "expired":
                await anyio.sleep(0.05)
        assert not (await s.call_tool("get-sum", {"a": 1, "b": 2})).is_error  # the session goes on
    expired = approval_records(read_audit(audit))[-1]
    assert expired["choice"] == "cancelled by the client"
    assert list((mcpwrap_home / "approvals").glob("*.json")) == []


def test_client_leaving_while_held_drops_the_call(tmp_path, mcpwrap_home):
    """Client EOF: nobody is left to answer, so the held call is withdrawn and recorded, and mcpwrap exits."""
    import subprocess

    audit = tmp_path / "audit.jsonl"
    env = approval_env(mcpwrap_home, **TERMINAL_ONLY)
    proc = subprocess.Popen(approval_command(EVERYTHING, audit_log=audit), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "left behind"}}},
    ]
    proc.stdin.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    proc.stdin.flush()
    assert len(wait_for_pending(mcpwrap_home)) == 1
    proc.stdin.close()
    assert proc.wait(timeout=30) is not None
    out = proc.stdout.read().decode()
    assert '"id":2' not in out.replace(" ", "")  # the server never answered it: it never received it
    expired = approval_records(read_audit(audit))[-1]
    assert expired["status"] == "expired" and expired["choice"] == "the client closed the connection"
    assert list((mcpwrap_home / "approvals").glob("*.json")) == []
