"""The desktop notification: the platform's standard command, detached; nothing where there is none."""

from __future__ import annotations

from approval_factories import wait_until

from mcpwrap.interceptors.approval.notify import notify_desktop


def test_desktop_notification_uses_the_standard_command(tmp_path, monkeypatch):
    log = tmp_path / "notified"
    fake = tmp_path / "bin" / "notify-send"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    monkeypatch.setattr("sys.platform", "linux")
    notify_desktop("files", "write_file", "1a2b3c4d")
    # The command runs detached: wait until it has written its last argument (the body, naming the id).
    assert wait_until(lambda: log.exists() and "1a2b3c4d" in log.read_text())
    lines = log.read_text().splitlines()
    assert "mcpwrap: approval needed" in lines and any("mcpwrap approve 1a2b3c4d" in line for line in lines)


def test_no_notification_command_is_fine(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    notify_desktop("files", "write_file", "1a2b3c4d")  # nothing to run: silently nothing
