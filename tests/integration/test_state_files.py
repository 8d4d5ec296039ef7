"""The audit log named with --audit-log is opened the safe way, end to end (issue 16, item 18)."""

from __future__ import annotations

import os
import subprocess

import pytest
from rig import FAKE, MCPWRAP, RawPeer, read_audit, wrap_command

pytestmark = pytest.mark.integration


def start(audit_log) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MCPWRAP, "wrap", "--audit-log", str(audit_log), "--", *FAKE],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )


def test_an_audit_log_path_that_is_a_link_stops_wrap_before_any_traffic(tmp_path):
    bashrc = tmp_path / ".bashrc"
    bashrc.write_text("# shell start-up\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(bashrc)
    proc = start(link)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "symbolic link" in proc.stderr and str(link) in proc.stderr and "Traceback" not in proc.stderr
    assert bashrc.read_text() == "# shell start-up\n"


def test_a_pre_planted_log_others_can_write_is_refused_not_used(tmp_path):
    planted = tmp_path / "audit.jsonl"
    planted.write_text('{"event":"forged"}\n')
    os.chmod(planted, 0o666)
    proc = start(planted)
    assert proc.returncode == 1 and f"chmod go-w {planted}" in proc.stderr
    assert planted.read_text() == '{"event":"forged"}\n' and (planted.stat().st_mode & 0o777) == 0o666


def test_a_safe_log_in_a_new_directory_is_created_owner_only(tmp_path):
    log = tmp_path / "logs" / "audit.jsonl"
    with RawPeer(wrap_command(FAKE, audit_log=log)) as p:
        assert p.request(1, "ping")["result"] == {}
    assert (log.parent.stat().st_mode & 0o777) == 0o700 and (log.stat().st_mode & 0o777) == 0o600
    assert read_audit(log)[0]["event"] == "session-start"
