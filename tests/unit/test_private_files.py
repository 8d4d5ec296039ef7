"""Every file mcpwrap opens under MCPWRAP_HOME (and the audit log wherever it is) is opened the one safe way:
no link followed, a regular file of the user's, not writable by others (issue 16, item 18).

Each case plants what an attacker would — a link to the user's ``~/.bashrc``, or a file others can write —
where mcpwrap keeps one of its files, and checks that mcpwrap refuses it with a sentence naming the fix, and
that the link's target is untouched.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpwrap import _paths
from mcpwrap._audit.keys import load_key
from mcpwrap._audit.read import read_records
from mcpwrap._audit.verify import verify
from mcpwrap._audit.writer import AuditLog
from mcpwrap._clients.safewrite import update_file
from mcpwrap._errors import AuditError, McpwrapError, UnsafeFileError
from mcpwrap._message import Session
from mcpwrap._state.approvals import ApprovalQueue, load_or_create_key
from mcpwrap._state.overrides import add_rule, load_rules
from mcpwrap._state.pins import PinStore
from mcpwrap.interceptors import load_policy

SHELL_RC = "# the user's shell start-up\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    target = tmp_path / "victim-home" / ".bashrc"
    target.parent.mkdir()
    target.write_text(SHELL_RC)
    return target


def audit_log(path: Path) -> None:
    log = AuditLog(path, Session("s", "srv"), key=None)
    try:
        if log.failed:
            raise AuditError(log.failed)
        log.record("message", id=1)
        log.flush()
    finally:
        log.close()


def pins(path: Path) -> None:
    PinStore(path.parent).load(path.stem)


def policy_in_home(path: Path) -> None:
    load_policy(path)


def overrides(path: Path) -> None:
    load_rules(path)


def audit_key(path: Path) -> None:
    load_key(path)


def approval_key(path: Path) -> None:
    load_or_create_key(path)


def audit_lock(path: Path) -> None:  # the lock beside the log
    audit_log(path.with_suffix(""))


# (what, where under MCPWRAP_HOME, how mcpwrap uses it)
FILES: list[tuple[str, str, Callable[[Path], None]]] = [
    ("audit log", "audit.jsonl", audit_log),
    ("audit log lock", "audit.jsonl.lock", audit_lock),
    ("audit key", "audit.key", audit_key),
    ("approval key", "approval.key", approval_key),
    ("pin file", "pins/srv.json", pins),
    ("overrides", "policy.overrides.yaml", overrides),
    ("policy", "policy.yaml", policy_in_home),
]


@pytest.mark.parametrize("what, name, use", FILES, ids=[f[0] for f in FILES])
def test_a_link_planted_in_place_of_a_state_file_is_refused_and_its_target_untouched(mcpwrap_home, victim, what, name, use):
    path = mcpwrap_home / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(mcpwrap_home, 0o700)
    path.symlink_to(victim)
    with pytest.raises((McpwrapError, OSError)) as err:
        use(path)
    assert "symbolic link" in str(err.value) or "not a regular file" in str(err.value)
    assert victim.read_text() == SHELL_RC


@pytest.mark.parametrize("what, name, use", [f for f in FILES if f[0] != "audit log lock"], ids=[f[0] for f in FILES if f[0] != "audit log lock"])
def test_a_state_file_others_can_write_is_refused(mcpwrap_home, what, name, use):
    path = mcpwrap_home / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    content = {"pin file": json.dumps({"format": 1, "server": "srv", "entries": {}}), "audit key": "k" * 64, "approval key": "k" * 64}
    path.write_text(content.get(what, ""))
    os.chmod(path, 0o666)
    with pytest.raises((McpwrapError, OSError)) as err:
        use(path)
    assert "chmod" in str(err.value) and str(path) in str(err.value)


def test_a_decision_file_planted_as_a_link_is_no_decision(mcpwrap_home, victim):
    queue = ApprovalQueue()
    approval_id = queue.submit({"server": "srv", "tool": "t", "digest": "sha256:x"})
    forged = mcpwrap_home.parent / "forged.json"
    forged.write_text(json.dumps({"id": approval_id, "decision": "approve", "digest": "sha256:x"}))
    other = mcpwrap_home.parent / "others.json"  # a file others could write is no decision either
    other.write_text(forged.read_text())
    other.chmod(0o666)
    for i, target in enumerate((forged, other)):
        link_or_copy = mcpwrap_home / "approvals" / f"{approval_id}.{i:016x}.decision"
        if target is forged:
            link_or_copy.symlink_to(target)
        else:
            link_or_copy.write_text(target.read_text())
            link_or_copy.chmod(0o666)
    attempts = queue.take_decisions(approval_id)
    assert len(attempts) == 2 and all(record is None for _token, record in attempts)
    assert forged.exists()  # the link was removed, never what it pointed at


def test_directories_mcpwrap_creates_are_owner_only(mcpwrap_home, tmp_path):
    assert not mcpwrap_home.exists()
    PinStore().update("srv", lambda doc: doc["entries"].setdefault("x", {}))
    add_rule({"name": "r", "action": "allow", "match": {"tools": ["t"]}})
    config = tmp_path / "project" / ".mcp.json"
    config.parent.mkdir()
    config.write_text('{"mcpServers": {}}')
    update_file(config, lambda text: text.replace("{}", '{"a": {"command": "x"}}'))
    log_dir = tmp_path / "new" / "logs"
    AuditLog(log_dir / "audit.jsonl", Session("s", "srv"), key=None).close()
    for d in (mcpwrap_home, _paths.pins_dir(), _paths.backups_dir(), _paths.locks_dir(), tmp_path / "new", log_dir):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


def test_readers_of_the_audit_log_do_not_follow_a_link(tmp_path, victim):
    real = tmp_path / "audit.jsonl"
    AuditLog(real, Session("s", "srv"), key=None).close()
    link = tmp_path / "link.jsonl"
    link.symlink_to(victim)
    with pytest.raises(UnsafeFileError):
        list(read_records([link]))
    report = verify([str(link)], None)
    assert "symbolic link" in (report.unusable or "")


@pytest.mark.parametrize("what, name, use", FILES[:2], ids=[f[0] for f in FILES[:2]])
def test_a_hard_link_planted_in_place_of_a_file_mcpwrap_writes_is_refused(mcpwrap_home, victim, what, name, use):
    # O_NOFOLLOW does not see a hard link: it is the victim file itself under a second name.
    path = mcpwrap_home / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(mcpwrap_home, 0o700)
    os.chmod(victim, 0o600)
    os.link(victim, path)
    with pytest.raises((McpwrapError, OSError)) as err:
        use(path)
    assert "hard link" in str(err.value)
    assert victim.read_text() == SHELL_RC
