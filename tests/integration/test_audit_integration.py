"""The audit log written by the real mcpwrap process between the official SDK client and real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from rig import EVERYTHING, TIME, child_env, read_audit, sdk_session, wrap_command
from typer.testing import CliRunner

from mcpwrap._audit.verify import verify
from mcpwrap._cli.app import app

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

KEY = "integration-test-audit-key-0123456789"
RESPONSE_TIMEOUT = 30  # seconds to wait for one line from the wrapped server


def rpc(proc: subprocess.Popen, message: dict | None) -> dict | None:
    """Send one line (if any) and read one line back."""
    if message is not None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
    if message is not None and "id" not in message:
        return None
    while True:  # the server may send notifications first (list_changed, logging)
        line = proc.stdout.readline()
        assert line, "mcpwrap closed its stdout"
        answer = json.loads(line)
        if "method" not in answer and (message is None or answer.get("id") == message["id"]):
            return answer


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "audit-test", "version": "1"}},
}


def start_raw(cmd: list[str], env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)


async def record_real_sessions(log: Path, env: dict) -> None:
    """Two servers wrapped at once, both appending to one log, as after `mcpwrap enable`."""

    async def everything() -> None:
        async with sdk_session(wrap_command(EVERYTHING, "--name", "everything", audit_log=log, hooked=True), env=env) as session:
            await session.list_tools()
            for text in ("one", "two", "three"):
                result = await session.call_tool("echo", {"message": text})
                assert not result.is_error
            blocked = await session.call_tool("get-sum", {"a": 1, "b": 2})
            assert blocked.is_error and "test script blocks" in blocked.content[0].text

    async def clock() -> None:
        async with sdk_session(wrap_command(TIME, "--name", "time", audit_log=log, hooked=True), env=env) as session:
            await session.list_tools()
            result = await session.call_tool("get_current_time", {"timezone": "UTC"})
            assert not result.is_error

    async with anyio.create_task_group() as tg:
        tg.start_soon(everything)
        tg.start_soon(clock)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A log recorded through real servers, with a key, one blocked call, and one call per second server."""
    home = tmp_path_factory.mktemp("home")
    log = home / "audit.jsonl"
    env = child_env(
        MCPWRAP_HOME=str(home),
        MCPWRAP_AUDIT_KEY=KEY,
        MCPWRAP_TEST_HOOKS="mcpwrap.testing:ScriptedInterceptor",
        MCPWRAP_TEST_SCRIPT=json.dumps({"block": ["tools/call:get-sum"]}),
    )
    anyio.run(record_real_sessions, log, env)
    deadline = time.monotonic() + RESPONSE_TIMEOUT  # the wrappers write session-end as they exit
    while sum(r["event"] == "session-end" for r in read_audit(log)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    return log


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_real_sessions_verify_intact_and_authenticated(recorded):
    records = read_audit(recorded)
    assert {r["server"] for r in records} == {"everything", "time"}
    assert sum(r["event"] == "session-end" for r in records) == 2
    assert all(r["kid"] == records[0]["kid"] for r in records)
    result = cli("audit", "verify", "--json", str(recorded), env={"MCPWRAP_AUDIT_KEY": KEY})
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report
    assert report["status"] == "intact" and report["authenticated"] and report["sessions"]["ended"] == 2


def tampered(recorded: Path, tmp_path: Path, edit) -> Path:
    lines = recorded.read_bytes().splitlines(keepends=True)
    edit(lines)
    out = tmp_path / "tampered.jsonl"
    out.write_bytes(b"".join(lines))
    return out


def _index(lines: list[bytes], predicate) -> int:
    return next(i for i, line in enumerate(lines) if predicate(json.loads(line)))


def _edit_blocked_call(lines):
    i = _index(lines, lambda r: r.get("tool") == "get-sum" and r.get("action") == "block")
    lines[i] = lines[i].replace(b'"action":"block"', b'"action":"pass"')


def _delete_echo(lines):
    lines.pop(_index(lines, lambda r: r.get("tool") == "echo"))


def _insert_copy(lines):
    lines.insert(len(lines) - 3, lines[3])


def _reorder(lines):
    i = _index(lines, lambda r: r.get("tool") == "echo")
    lines[i], lines[i + 1] = lines[i + 1], lines[i]


def _truncate(lines):
    del lines[_index(lines, lambda r: r["event"] == "session-end") :]


@pytest.mark.parametrize(
    "edit, kind",
    [(_edit_blocked_call, "edited"), (_delete_echo, "deleted"), (_insert_copy, "inserted"), (_reorder, "reordered"), (_truncate, "truncated")],
    ids=["edited", "deleted", "inserted", "reordered", "truncated"],
)
def test_damage_to_a_real_log_is_caught(recorded, tmp_path, edit, kind):
    damaged = tampered(recorded, tmp_path, edit)
    result = cli("audit", "verify", "--json", str(damaged), env={"MCPWRAP_AUDIT_KEY": KEY})
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["first_bad"]["kind"] == kind, report["problems"]


def test_real_log_with_the_wrong_key(recorded):
    result = cli("audit", "verify", str(recorded), env={"MCPWRAP_AUDIT_KEY": "some-other-key-of-enough-length"})
    assert result.exit_code == 1
    assert f"{recorded}:1: wrong-key" in result.stdout


def test_tail_stats_export_dashboard_read_the_real_log(recorded, tmp_path):
    tail = cli("audit", "tail", "-n", "100", str(recorded), "--server", "everything", env={"COLUMNS": "200"})
    assert tail.exit_code == 0
    rows = tail.stdout.splitlines()[1:]
    assert all(" everything " in row for row in rows) and len(rows) > 10
    blocked = next(row for row in rows if "tools/call get-sum" in row and "block" in row)
    assert "test-block" in blocked and "test script blocks tools/call:get-sum" in blocked
    stats = json.loads(cli("audit", "stats", "--json", str(recorded)).stdout)
    assert stats["servers"]["everything"]["block"] == 1
    assert stats["tools"]["echo"]["calls"] == 3 and stats["tools"]["echo"]["latency_ms"]["n"] == 3
    assert stats["top_block_rules"] == [["test-block", 1]]
    out = tmp_path / "blocks.csv"
    assert cli("audit", "export", "--format", "csv", "--action", "block", "-o", str(out), str(recorded)).exit_code == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 2 and "get-sum" in rows[1]
    dash = cli("dashboard", "--once", str(recorded))
    assert dash.exit_code == 0 and "everything" in dash.stdout and "time" in dash.stdout


def test_a_killed_writer_leaves_a_detectable_explainable_state(tmp_path):
    log = tmp_path / "audit.jsonl"
    env = child_env(MCPWRAP_HOME=str(tmp_path / "home"))
    proc = start_raw(wrap_command(EVERYTHING, "--name", "victim", audit_log=log), env)
    try:
        assert rpc(proc, INITIALIZE)["id"] == 0
        rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        echo = rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}})
        assert echo["id"] == 1 and "result" in echo
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=RESPONSE_TIMEOUT)
    finally:
        start = next((r for r in read_audit(log) if r["event"] == "session-start"), None)
        if start is not None:  # the server's process group outlives a SIGKILLed wrapper
            try:
                os.killpg(start["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.kill()
        proc.wait()
    records = read_audit(log)
    assert records[0]["wrapper"]["pid"] == proc.pid
    assert "session-end" not in {r["event"] for r in records}
    report = verify([log], None)
    assert [p.kind for p in report.problems] == ["truncated"]
    problem = report.problems[0]
    assert problem.line == len(records)  # points at the session's last record
    assert f"mcpwrap pid {proc.pid}" in problem.message and "killed" in problem.message


def test_log_that_cannot_be_opened_stops_wrap_at_start_under_block(tmp_path):
    # Mid-session failures answer with the block contract (disk-full test below); a log that cannot be opened
    # at all is a set-up mistake reported before any traffic, and the already spawned server is ended.
    log = tmp_path / "audit-is-a-directory"
    log.mkdir()
    proc = start_raw(wrap_command(EVERYTHING, audit_log=log), child_env(MCPWRAP_HOME=str(tmp_path / "home")))
    try:
        out, err = proc.communicate(timeout=RESPONSE_TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 1 and out == b""
    assert b"cannot open audit log" in err and b"audit.on_failure: block" in err and b"Traceback" not in err


def test_unwritable_log_with_warn_policy_lets_traffic_through(tmp_path):
    log = tmp_path / "audit-is-a-directory"
    log.mkdir()
    policy = tmp_path / "policy.yaml"
    policy.write_text("audit:\n  on_failure: warn\n")
    proc = start_raw(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=log), child_env(MCPWRAP_HOME=str(tmp_path / "home")))
    try:
        answer = rpc(proc, INITIALIZE)
        assert answer["id"] == 0 and "result" in answer
        _, err = proc.communicate(timeout=RESPONSE_TIMEOUT)  # closes stdin: the client leaves
    finally:
        proc.kill()
    assert b"WARNING" in err and b"UNAUDITED" in err


LIMIT_AND_EXEC = "import os, resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2); os.execvp(sys.argv[2], sys.argv[2:])"


def test_disk_full_mid_session_blocks_the_call_it_cannot_record(tmp_path):
    """A real write failure: the file-size limit of the mcpwrap process is reached during the session."""
    log = tmp_path / "audit.jsonl"
    limit = 6000  # bytes: session-start and a few calls fit, then writes fail with EFBIG
    cmd = [sys.executable, "-c", LIMIT_AND_EXEC, str(limit), *wrap_command(EVERYTHING, audit_log=log)]
    proc = start_raw(cmd, child_env(MCPWRAP_HOME=str(tmp_path / "home")))
    answers = []
    try:
        assert "result" in rpc(proc, INITIALIZE)
        rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        for i in range(1, 60):
            answer = rpc(proc, {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": f"m{i}"}}})
            answers.append(answer)
            if answer.get("result", {}).get("isError"):
                break
        _, err = proc.communicate(timeout=RESPONSE_TIMEOUT)  # closes stdin: the client leaves
    finally:
        proc.kill()
    blocked = answers[-1]
    assert blocked["result"]["isError"] and "cannot write its audit log" in blocked["result"]["content"][0]["text"]
    assert len(answers) > 1  # some calls passed, audited, before the limit
    assert b"File too large" in err
    assert log.stat().st_size <= limit
    # Every call the client saw answered normally was recorded before it was forwarded.
    recorded_ids = {r.get("id") for r in read_audit_lenient(log) if r.get("method") == "tools/call" and r.get("kind") == "request"}
    assert {a["id"] for a in answers[:-1]} <= recorded_ids
    kinds = [p.kind for p in verify([log], None).problems]
    assert set(kinds) <= {"torn", "truncated"} and kinds  # the cut-short write, and no session-end


def read_audit_lenient(path: Path) -> list[dict]:
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out
