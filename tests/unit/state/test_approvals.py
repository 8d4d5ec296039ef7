"""The approval queue, the per-installation key and "remember always", without any process around them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcpwrap._paths import overrides_path
from mcpwrap._state.approvals import (
    ApprovalError,
    ApprovalQueue,
    digest_of,
    load_or_create_key,
    write_override_rule,
)
from mcpwrap._state.overrides import override_rule


def entry(**kw) -> dict:
    return {"created_ts": 1.0, "server": "files", "tool": "write", "rule": "confirm", "remember": ["once", "session"], "digest": digest_of(b"call"), **kw}


def test_submit_list_decide_withdraw(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry())
    assert oct((tmp_path / "approvals").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "approvals" / f"{approval_id}.json").stat().st_mode & 0o777) == "0o600"
    (listed,) = q.pending()
    assert listed["id"] == approval_id and listed["pid"] == os.getpid()
    assert q.poll_decision(approval_id) is None
    q.decide(approval_id, "approve", remember="session")
    decision = q.poll_decision(approval_id)
    assert decision["decision"] == "approve" and decision["remember"] == "session" and decision["digest"] == digest_of(b"call")
    assert q.pending() == []  # decided: no longer offered
    q.withdraw(approval_id)
    assert list((tmp_path / "approvals").iterdir()) == []


def test_first_decision_wins(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry())
    q.decide(approval_id, "deny")
    with pytest.raises(ApprovalError, match="already decided"):
        q.decide(approval_id, "approve")
    assert q.poll_decision(approval_id)["decision"] == "deny"


@pytest.mark.parametrize(
    "approval_id, decision, remember, message",
    [
        ("deadbeef", "approve", "once", "no pending approval"),
        ("../../etc", "approve", "once", "no pending approval"),
        (None, "maybe", "once", "decision must be"),
        (None, "approve", "always", "not offered"),
    ],
)
def test_bad_decisions(tmp_path, approval_id, decision, remember, message):
    q = ApprovalQueue(tmp_path / "approvals")
    real = q.submit(entry())
    with pytest.raises(ApprovalError, match=message):
        q.decide(approval_id or real, decision, remember=remember)


def test_entries_of_dead_processes_are_cleaned(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    approval_id = q.submit(entry())
    path = tmp_path / "approvals" / f"{approval_id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": int(dead)}))
    assert q.pending() == []
    assert not path.exists()
    with pytest.raises(ApprovalError):
        q.decide(approval_id, "approve")


def test_a_queue_others_can_read_is_refused(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    q.ensure()
    os.chmod(tmp_path / "approvals", 0o755)
    with pytest.raises(ApprovalError, match="accessible to other users"):
        q.submit(entry())
    with pytest.raises(ApprovalError, match="chmod 700"):
        q.pending()


def test_key_is_created_once_private_and_checked(tmp_path):
    path = tmp_path / "home" / "approval.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and load_or_create_key(path) == key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    os.chmod(path, 0o644)
    with pytest.raises(ApprovalError, match="accessible to other users"):
        load_or_create_key(path)
    os.chmod(path, 0o600)
    path.write_bytes(b"short")
    with pytest.raises(ApprovalError, match="too short"):
        load_or_create_key(path)


def test_write_override_rule_refuses_a_file_it_does_not_understand(mcpwrap_home):
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text("- just a list\n")
    with pytest.raises(ApprovalError, match="rules list"):
        write_override_rule(override_rule(server="s", tool="t", arguments=None))


def test_a_timed_out_entry_cannot_be_decided(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry(expires_ts=1.0))
    with pytest.raises(ApprovalError, match="timed out"):
        q.decide(approval_id, "approve")
    assert q.pending() == []
