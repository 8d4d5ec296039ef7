"""`mcpwrap audit …` and `mcpwrap dashboard` output, through typer's CliRunner, on recorded logs."""

from __future__ import annotations

import csv
import io
import json
import stat
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mcpwrap._audit.read import read_records
from mcpwrap._audit.writer import AuditLog
from mcpwrap._cli.app import app
from mcpwrap._cli.dashboard import DashboardState, load, sparkline
from mcpwrap._cli.output import Output
from mcpwrap._message import Session

KEY = "cli-test-key-0123456789abcdef"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160", **(env or {})}, catch_exceptions=False)


def record_sessions(path: Path, key: bytes | None = None) -> Path:
    """Two servers, two subjects: passes, a block, a redaction, latencies."""
    fs = AuditLog(path, Session("a1", "filesystem", "alice"), key=key)
    gh = AuditLog(path, Session("b2", "github", "bob"), key=key)
    for log in (fs, gh):
        log.record("session-start", command=["server"], pid=1)
        log.flush()
    for i, latency in enumerate((3.0, 5.0, 40.0)):
        fs.record("message", direction="c2s", kind="request", id=i, method="tools/call", tool="read_file", action="pass", rule="allow-reads")
        fs.record("message", direction="s2c", kind="result", id=i, method="tools/call", tool="read_file", action="pass", latency_ms=latency)
        fs.flush()
    fs.record(
        "message", direction="c2s", kind="request", id=9, method="tools/call", tool="write_file", action="block",
        rule="no-writes", interceptor="policy", reason="writes outside the project are not allowed",
    )  # fmt: skip
    fs.flush()
    gh.record("message", direction="c2s", kind="request", id=1, method="tools/call", tool="create_issue", action="pass")
    gh.record(
        "message", direction="s2c", kind="result", id=1, method="tools/call", tool="create_issue", action="modify",
        interceptor="secrets", rule="redact-secrets", reason="1 secret redacted", latency_ms=120.0,
        changes=[{"interceptor": "secrets", "rule": "redact-secrets", "redacted": {"github-token": 1}}],
    )  # fmt: skip
    gh.flush()
    for log in (fs, gh):
        log.record("session-end", exit_code=0)
        log.close()
    return path


@pytest.fixture
def log(tmp_path):
    return record_sessions(tmp_path / "audit.jsonl")


# --- verify ------------------------------------------------------------------------------------------------------------


def test_verify_intact_text_and_exit_0(log):
    result = run("audit", "verify", str(log))
    assert result.exit_code == 0
    assert result.stdout.startswith(f"OK: {log}: chain intact; 13 records, 2 sessions (2 ended, 0 running)")


def test_verify_damaged_names_first_bad_line_and_exit_1(log, tmp_path):
    lines = log.read_bytes().splitlines(keepends=True)
    del lines[4]
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"".join(lines))
    result = run("audit", "verify", str(damaged))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{damaged}:5: deleted: 1 record(s) missing after {damaged}:4 (chain positions 4..4)"
    assert f"first bad line {damaged}:5 (deleted)" in result.stdout


def test_verify_json(log):
    result = run("audit", "verify", "--json", str(log))
    report = json.loads(result.stdout)
    assert result.exit_code == 0
    assert report["status"] == "intact" and report["records"] == 13 and report["problems"] == [] and report["first_bad"] is None


def test_verify_unusable_input_exit_2(tmp_path):
    missing = run("audit", "verify", "--json", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 2 and json.loads(missing.stdout)["status"] == "unusable"
    junk = tmp_path / "junk"
    junk.write_text("not a log\n")
    assert run("audit", "verify", str(junk)).exit_code == 2


def test_verify_uses_the_key_in_mcpwrap_home(mcpwrap_home, tmp_path):
    assert run("audit", "init-key").exit_code == 0
    key = (mcpwrap_home / "audit.key").read_bytes().strip()
    path = record_sessions(tmp_path / "keyed.jsonl", key=key)
    result = run("audit", "verify", str(path))
    assert result.exit_code == 0 and "authenticated with key" in result.stdout
    # Without it, a keyed log cannot be verified: unusable input.
    no_key = run("audit", "verify", "--no-key", str(path))
    assert no_key.exit_code == 2 and "give the key" in no_key.stderr
    wrong = run("audit", "verify", str(path), env={"MCPWRAP_AUDIT_KEY": "x" * 40})
    assert wrong.exit_code == 1 and ": wrong-key: " in wrong.stdout


def test_verify_defaults_to_the_configured_log_and_its_rotated_files(mcpwrap_home):
    record_sessions(mcpwrap_home / "audit.jsonl")
    result = run("audit", "verify")
    assert result.exit_code == 0 and str(mcpwrap_home / "audit.jsonl") in result.stdout


def test_init_key(mcpwrap_home):
    result = run("audit", "init-key")
    assert result.exit_code == 0 and "key id" in result.stdout
    assert stat.S_IMODE((mcpwrap_home / "audit.key").stat().st_mode) == 0o600
    again = run("audit", "init-key")
    assert again.exit_code == 1 and "already exists" in again.stderr


# --- tail / export / stats ---------------------------------------------------------------------------------------------


def test_tail_one_row_per_record(log):
    result = run("audit", "tail", "-n", "3", str(log))
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 4
    assert lines[0].split() == ["time", "dir", "server", "method", "/", "tool", "action", "rule", "latency", "reason"]
    assert "github" in lines[1] and "tools/call create_issue" in lines[1] and "modify" in lines[1] and "120.0 ms" in lines[1]
    assert [line.split()[1:3] for line in lines[2:]] == [["filesystem", "(session-end)"], ["github", "(session-end)"]]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--server", "github"], 4),
        (["--tool", "read_file"], 6),
        (["--action", "block"], 1),
        (["--subject", "bob"], 4),
        (["--since", "1h"], 13),
        (["--since", "2999-01-01"], 0),
    ],
)
def test_tail_filters_and_json(log, args, expected):
    result = run("audit", "tail", "--json", "-n", "100", str(log), *args)
    records = [json.loads(x) for x in result.stdout.splitlines()]
    assert result.exit_code == 0 and len(records) == expected
    assert result.stdout.encode() == b"".join(line for line, rec in read_records([log], raw=True) if line.decode() in result.stdout)


def test_tail_bad_since_is_a_usage_error(log):
    result = run("audit", "tail", str(log), "--since", "yesterday-ish")
    assert result.exit_code == 2 and "--since takes a duration" in result.stderr


def test_export_csv(log):
    result = run("audit", "export", "--format", "csv", str(log), "--server", "filesystem")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and len(rows) == 9
    blocked = [r for r in rows if r["action"] == "block"]
    assert blocked[0]["tool"] == "write_file" and blocked[0]["rule"] == "no-writes" and blocked[0]["subject"] == "alice"


def test_export_jsonl_is_byte_identical(log, tmp_path):
    out = tmp_path / "copy.jsonl"
    result = run("audit", "export", "--format", "jsonl", "-o", str(out), str(log))
    assert result.exit_code == 0 and out.read_bytes() == log.read_bytes()
    assert "wrote 13 records" in result.stderr


def test_export_rejects_unknown_format(log):
    assert run("audit", "export", "--format", "xml", str(log)).exit_code == 2


def test_stats_json(log):
    stats = json.loads(run("audit", "stats", "--json", str(log)).stdout)
    assert stats["servers"]["filesystem"] == {"messages": 7, "pass": 6, "modify": 0, "block": 1, "errors": 0}
    assert stats["tools"]["read_file"]["latency_ms"] == {"n": 3, "p50": 5.0, "p95": 40.0, "p99": 40.0}
    assert stats["top_block_rules"] == [["no-writes", 1]]
    assert dict(stats["top_detectors"]) == {"policy": 1, "secrets": 1}
    assert stats["subjects"][0] == ["alice", 7]


def test_stats_rich_layout(log):
    result = run("audit", "stats", str(log))
    out = result.stdout
    assert result.exit_code == 0
    assert "13 records, 2 sessions" in out and "per server" in out and "per tool" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("read_file"))
    assert row.split() == ["read_file", "3", "3", "0", "0", "5.0", "40.0", "40.0"]  # calls and their decisions


# --- dashboard ---------------------------------------------------------------------------------------------------------


def test_dashboard_renders_from_a_recorded_log(log):
    state = load([log])
    console = Console(record=True, width=120, color_system=None)
    console.print(state.render())
    text = console.export_text()
    assert "mcpwrap dashboard" in text
    assert "messages 9" in text and "blocks 1" in text and "modified 1" in text and "redactions 1" in text
    fs = next(line for line in text.splitlines() if "filesystem" in line and "idle" in line)
    # sessions, messages, blocks, errors, error rate (then the border): a block is not an error
    assert fs.split()[-6:-1] == ["0", "7", "1", "0", "0%"]
    recent = text[text.index("recent decisions") :]
    assert recent.index("create_issue") < recent.index("write_file")  # newest first
    assert "no-writes" in recent and "writes outside the project" in recent


def test_dashboard_counts_per_second_and_shows_open_sessions():
    state = DashboardState()
    base = "2026-01-01T00:00:"
    state.feed({"ts": base + "00Z", "event": "session-start", "server": "s", "session": "x"})
    for sec in range(10):
        for _ in range(sec):
            state.feed({"ts": f"{base}{sec:02d}.5Z", "event": "message", "server": "s", "kind": "request", "method": "tools/call", "action": "pass"})
    console = Console(record=True, width=100, color_system=None)
    console.print(state.render(state.latest, width=100))
    text = console.export_text()
    assert "msgs/s 7.0" in text  # seconds 5..9 carry 5+6+7+8+9 = 35 messages
    assert "● up" in text
    assert sparkline([0, 1, 2, 4]) == " ▃▅█" and sparkline([0, 4], ascii_only=True) == " #"


def test_dashboard_once_via_cli(log, tmp_path):
    result = run("dashboard", "--once", str(log))
    assert result.exit_code == 0 and "filesystem" in result.stdout and "github" in result.stdout
    missing = run("dashboard", "--once", str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


@pytest.mark.parametrize("terminal", [True, False], ids=["live-terminal", "plain-output"])
def test_dashboard_live_loop_in_a_terminal_and_as_plain_output(tmp_path, terminal):
    from mcpwrap._cli.dashboard import run_dashboard

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Session("live", "watched", "carol"), key=None)
    log.record("session-start")
    log.flush()

    def writer():
        for i in range(20):
            log.record("message", direction="c2s", kind="request", id=i, method="tools/call", tool="ping", action="block" if i == 3 else "pass", rule="r")
            log.flush()
            time.sleep(0.01)

    out = io.StringIO()
    output = Output(out, terminal=terminal)
    output._console = Console(file=out, width=100, force_terminal=terminal, color_system=None, legacy_windows=False)
    t = threading.Thread(target=writer)
    t.start()
    t.join()
    run_dashboard([path], refresh=0.05, once=False, out=output, frames=3)
    log.close()
    text = out.getvalue()
    assert "watched" in text and "messages 20" in text and "blocks 1" in text
    if not terminal:
        assert text.count("mcpwrap dashboard") == 3  # one full frame per refresh, nothing redrawn in place


def test_tail_summarises_a_listing_of_tool_risk_records_in_one_row(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Session("s1", "files", "alice"), key=None)
    log.record("session-start", command=["server"], pid=1)
    for tool, risk in (("read_file", "read"), ("write_file", "write"), ("list", "read"), ("exec", "execute")):
        log.record("tool-risk", tool=tool, risk=risk)
    log.record("message", direction="c2s", kind="request", id=1, method="tools/call", tool="read_file", action="pass")
    log.close()
    rows = run("audit", "tail", str(path)).stdout.splitlines()[1:]
    assert len(rows) == 3  # session start, one summary, the call
    assert "4 tools classified: 2 read, 1 write, 1 execute" in rows[1] and "info" in rows[1]
    assert len(run("audit", "tail", "--json", str(path)).stdout.splitlines()) == 6  # --json: the records as stored


def test_init_key_on_a_log_with_records_starts_an_authenticated_segment(mcpwrap_home):
    live = mcpwrap_home / "audit.jsonl"
    record_sessions(live)  # written without a key
    plain_records = len(live.read_bytes().splitlines())
    added = run("audit", "init-key")
    assert added.exit_code == 0, added.output
    assert f"the {plain_records} earlier record(s) as before the key" in added.stdout
    key = (mcpwrap_home / "audit.key").read_bytes().strip()
    # wrappers started from now on seal with the key; verify accepts the whole log
    after = AuditLog(live, Session("c3", "memory", "carol"), key=key)
    after.record("session-start", command=["server"], pid=1)
    after.record("session-end", exit_code=0)
    after.close()
    ok = run("audit", "verify", str(live))
    assert ok.exit_code == 0, ok.stdout
    assert "authenticated with key" in ok.stdout and f"{plain_records} earlier record(s) before the key" in ok.stdout
    report = json.loads(run("audit", "verify", "--json", str(live)).stdout)
    assert report["status"] == "intact" and report["authenticated"] and report["before_key"] == plain_records


def test_records_before_the_key_are_still_protected_by_it(mcpwrap_home):
    live = mcpwrap_home / "audit.jsonl"
    record_sessions(live)
    assert run("audit", "init-key").exit_code == 0
    lines = live.read_bytes().splitlines(keepends=True)
    # a forger without the key rewrites an early plain record and recomputes every plain hash up to the key
    from mcpwrap._audit.seal import Sealer, parse_sealed

    def body(line: bytes) -> bytes:  # the record as serialised, without its chain fields
        return line[: line.rindex(b',"seq":')] + b"}"

    target = next(i for i, line in enumerate(lines) if b'"write_file"' in line)
    forged = lines[:target]
    seq, n, _kid, prev = (lambda p: (p[0], p[1] + 1, p[3], p[4]))(parse_sealed(lines[target - 1].rstrip(b"\n")))
    plain = Sealer(None)
    for i in range(target, len(lines) - 1):
        own_seq = parse_sealed(lines[i].rstrip(b"\n"))[0]
        text = body(lines[i]).replace(b'"action":"block"', b'"action":"pass"')
        parts, _seq, n, prev = plain.seal([text], own_seq, n, prev)
        forged.append(b"".join(parts))
    unkeyed = live.with_name("forged-unkeyed.jsonl")
    unkeyed.write_bytes(b"".join(forged))
    assert run("audit", "verify", "--no-key", str(unkeyed)).exit_code == 0  # without a key the forgery is perfect
    forged.append(lines[-1])  # the key-added record: its MAC cannot be redone without the key
    live.write_bytes(b"".join(forged))
    result = run("audit", "verify", str(live))
    assert result.exit_code == 1 and "DAMAGED" in result.stdout and ": edited: " in result.stdout


def test_records_without_the_key_after_it_are_damage(mcpwrap_home):
    live = mcpwrap_home / "audit.jsonl"
    record_sessions(live)
    assert run("audit", "init-key").exit_code == 0
    late = AuditLog(live, Session("d4", "late", "dave"), key=None)  # a writer that never got the key
    late.record("session-start", command=["server"], pid=1)
    late.close()
    result = run("audit", "verify", str(live))
    assert result.exit_code == 1 and ": unauthenticated: " in result.stdout


def test_a_replaced_key_starts_a_new_segment(mcpwrap_home):
    live = mcpwrap_home / "audit.jsonl"
    assert run("audit", "init-key").exit_code == 0
    first = (mcpwrap_home / "audit.key").read_bytes().strip()
    record_sessions(live, key=first)
    count = len(live.read_bytes().splitlines())
    assert run("audit", "init-key").exit_code == 1  # never replaced by accident
    replaced = json.loads(run("audit", "init-key", "--force", "--json").stdout)
    assert replaced["sealed"] and replaced["before_key"] == count
    report = json.loads(run("audit", "verify", "--json", str(live)).stdout)
    assert report["status"] == "intact" and report["before_key"] == count


def test_tail_shows_a_sessions_sandbox_in_one_clause(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Session("s1", "files", "alice"), key=None)
    log.record("session-start", command=["server"], pid=1)
    log.record("sandbox", enabled=True, complete=False, applied={"landlock": {"abi": 7}, "seccomp": ["io_uring"]},
               network={"mode": "deny"}, missing=[{"feature": "namespaces", "consequence": "…"}])  # fmt: skip
    log.close()
    row = run("audit", "tail", str(path)).stdout.splitlines()[2]
    assert "(sandbox)" in row and "info" in row
    assert "sandbox partial: landlock, seccomp; network deny; missing namespaces" in row
