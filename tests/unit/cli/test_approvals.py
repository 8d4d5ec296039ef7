"""`mcpwrap approvals / approve / deny` against a queue filled directly, and the desktop notification."""

from __future__ import annotations

import json
import os
import time

import pytest
from typer.testing import CliRunner

from mcpwrap._cli.app import app
from mcpwrap._state.approvals import ApprovalQueue, digest_of
from mcpwrap.interceptors.approval import _notify_desktop

runner = CliRunner()


def submit(**kw) -> str:
    now = time.time()
    entry = {"created_ts": now, "expires_ts": now + 60, "server": "files", "tool": "write_file", "arguments": 'path: "/tmp/x"',
             "rule": "confirm-writes", "reason": "writes files", "on_timeout": "deny", "remember": ["once", "session"], "digest": digest_of(b"x"), **kw}
    return ApprovalQueue().submit(entry)


def test_approvals_lists_every_pending_call(mcpwrap_home):
    first = submit()
    second = submit(server="git", tool="git_push")
    result = runner.invoke(app, ["approvals"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Pending approvals (2)" in result.output
    for text in (first, second, "files", "git_push", "confirm-writes", "then deny", "mcpwrap approve ID"):
        assert text in result.output
    listed = json.loads(runner.invoke(app, ["approvals", "--json"]).output)
    assert [e["id"] for e in listed] == [first, second]


def test_approvals_when_nothing_waits(mcpwrap_home):
    result = runner.invoke(app, ["approvals"])
    assert result.exit_code == 0 and "No calls are waiting for approval." in result.output
    assert not (mcpwrap_home / "approvals").exists()  # listing creates nothing


def test_approve_needs_a_terminal(mcpwrap_home):
    approval_id = submit()
    result = runner.invoke(app, ["approve", approval_id, "--yes"])
    assert result.exit_code == 1 and "must be run by a person in a terminal" in result.output
    assert ApprovalQueue().poll_decision(approval_id) is None


def test_approve_rejects_an_unknown_remember_choice(mcpwrap_home):
    result = runner.invoke(app, ["approve", submit(), "--remember", "forever"])
    assert result.exit_code == 2 and "--remember must be one of once, session, always" in result.output


def test_deny_records_the_decision_once(mcpwrap_home):
    approval_id = submit()
    result = runner.invoke(app, ["deny", approval_id])
    assert result.exit_code == 0 and f"denied {approval_id} (files: write_file)" in result.output
    assert ApprovalQueue().poll_decision(approval_id)["decision"] == "deny"
    again = runner.invoke(app, ["deny", approval_id])
    assert again.exit_code == 1 and "already decided" in again.output


def test_deny_unknown_id(mcpwrap_home):
    submit()
    result = runner.invoke(app, ["deny", "0000abcd"])
    assert result.exit_code == 1 and "no pending approval '0000abcd'" in result.output


def test_desktop_notification_uses_the_standard_command(tmp_path, monkeypatch):
    log = tmp_path / "notified"
    fake = tmp_path / "bin" / "notify-send"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr("sys.platform", "linux")
    _notify_desktop("files", "write_file", "1a2b3c4d")
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = log.read_text().splitlines()
    assert "mcpwrap: approval needed" in lines and any("mcpwrap approve 1a2b3c4d" in line for line in lines)


def test_no_notification_command_is_fine(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    _notify_desktop("files", "write_file", "1a2b3c4d")  # nothing to run: silently nothing


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_listing_refuses_a_shared_queue(mcpwrap_home):
    submit()
    os.chmod(mcpwrap_home / "approvals", 0o777)
    result = runner.invoke(app, ["approvals"])
    assert result.exit_code == 1 and "accessible to other users" in result.output


def test_listing_shows_markup_in_arguments_literally(mcpwrap_home):
    submit(arguments='path: "[white on white]/etc/shadow[/]"')
    result = runner.invoke(app, ["approvals"], env={"COLUMNS": "200"})
    assert "[white on white]/etc/shadow[/]" in result.output


def test_approvals_watch_prints_each_change_when_piped(mcpwrap_home):
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpwrap", "approvals", "--watch"], stdout=subprocess.PIPE, text=True, env={**os.environ, "MCPWRAP_HOME": str(mcpwrap_home)}
    )
    try:
        seen: list[str] = []

        def read_until(text: str, deadline: float) -> None:
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                assert line, "approvals --watch ended"
                seen.append(line)
                if text in line:
                    return
            raise AssertionError(f"{text!r} not printed; got {seen!r}")

        read_until("No calls are waiting for approval.", time.monotonic() + 60)
        approval_id = submit(server="piped", tool="write_file")
        read_until(approval_id, time.monotonic() + 60)
        assert any("Pending approvals (1)" in line for line in seen)
        assert not any("\x1b[" in line for line in seen)  # plain text: no escape codes in a pipe
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
