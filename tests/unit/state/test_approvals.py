"""The approval queue, the per-installation key and "remember always", without any process around them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcpwrap._paths import overrides_path
from mcpwrap._state.approvals import (
    CODE_ALPHABET,
    CODE_LENGTH,
    ApprovalError,
    ApprovalQueue,
    call_digest,
    call_of,
    decision_mac,
    digest_of,
    format_code,
    load_or_create_key,
    new_code,
    normalize_code,
    verify_mac,
    write_override_rule,
)
from mcpwrap._state.overrides import override_rule


def entry(**kw) -> dict:
    return {"created_ts": 1.0, "server": "files", "tool": "write", "rule": "confirm", "remember": ["once", "session"], "digest": digest_of(b"call"), **kw}


def test_submit_list_attempt_answer_withdraw(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry())
    assert oct((tmp_path / "approvals").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "approvals" / f"{approval_id}.json").stat().st_mode & 0o777) == "0o600"
    (listed,) = q.pending()
    assert listed["id"] == approval_id and listed["pid"] == os.getpid()
    assert q.take_decisions(approval_id) == []
    token = q.send_decision(approval_id, "approve", remember="session", digest="sha256:x", mac="ab")
    (taken,) = q.take_decisions(approval_id)
    assert taken[0] == token and taken[1]["decision"] == "approve" and taken[1]["remember"] == "session" and taken[1]["mac"] == "ab"
    assert q.take_decisions(approval_id) == []  # consumed
    q.answer(approval_id, token, {"status": "rejected", "attempts_left": 2})
    assert q.wait_answer(approval_id, token, 1.0) == {"status": "rejected", "attempts_left": 2}
    assert q.wait_answer(approval_id, token, 0.1) is None  # collected
    q.withdraw(approval_id)
    assert list((tmp_path / "approvals").iterdir()) == []


def test_every_attempt_is_taken_once_even_files_mcpwrap_never_writes(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry())
    d = tmp_path / "approvals"
    first = q.send_decision(approval_id, "deny")
    second = q.send_decision(approval_id, "approve", mac="00")
    (d / f"{approval_id}.decision").write_text('{"decision": "approve"}')  # the old format
    (d / f"{approval_id}.zz.decision").write_text("not json")
    taken = q.take_decisions(approval_id)
    assert sorted(t for t, _ in taken if t) == sorted([first, second])
    assert [(t, r) for t, r in taken if t is None] == [(None, {"decision": "approve"}), (None, None)]
    assert not list(d.glob("*.decision"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_planted_links_and_fifos_block_nobody(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    approval_id = q.submit(entry())
    d = tmp_path / "approvals"
    os.mkfifo(d / f"{approval_id}.{'1' * 16}.decision")
    (d / f"{approval_id}.{'2' * 16}.decision").symlink_to("/dev/zero")
    (d / f"{approval_id}.{'3' * 16}.decision").write_bytes(b"[" * 10 + b"1" + b"]" * 10)
    taken = q.take_decisions(approval_id)  # returns at once: nothing is opened through a link or read from a FIFO
    assert len(taken) == 3 and all(r is None for _, r in taken)
    (d / f"{approval_id}.json").unlink()
    (d / f"{approval_id}.json").symlink_to("/dev/zero")
    with pytest.raises(ApprovalError, match="no pending approval"):
        q.get(approval_id)


@pytest.mark.parametrize(
    "approval_id, decision, message",
    [("deadbeef", "approve", "no pending approval"), ("../../etc", "approve", "no pending approval"), (None, "maybe", "decision must be")],
)
def test_bad_decisions(tmp_path, approval_id, decision, message):
    q = ApprovalQueue(tmp_path / "approvals")
    real = q.submit(entry())
    with pytest.raises(ApprovalError, match=message):
        q.send_decision(approval_id or real, decision)


# --- the one-time code ------------------------------------------------------------------------------------------------


def test_codes_are_random_typable_and_forgiving_to_type():
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("ILOU") & set(CODE_ALPHABET)
    code = "7KQ2M9XD"
    assert format_code(code) == "7KQ2-M9XD"
    for typed in ("7KQ2-M9XD", "7kq2 m9xd", " 7KQ2M9XD\n"):
        assert normalize_code(typed) == code
    assert normalize_code("O1IL-0000") == "0111" + "0000"  # O is 0, I and L are 1
    for bad in ("", "7KQ2-M9X", "7KQ2-M9XDD", "7KQ2-M9XU", "7KQ2_M9XD"):
        assert normalize_code(bad) is None


def test_a_decision_mac_binds_code_id_call_decision_and_remember():
    digest = call_digest("files", call_of("tools/call", {"name": "write", "arguments": {"a": 1}}))
    record = {"decision": "approve", "remember": "once", "mac": decision_mac("7KQ2M9XD", "1a2b3c4d", digest, "approve", "once")}
    assert verify_mac("7KQ2M9XD", "1a2b3c4d", digest, record)
    assert not verify_mac("7KQ2M9XE", "1a2b3c4d", digest, record)
    assert not verify_mac("7KQ2M9XD", "1a2b3c4e", digest, record)
    assert not verify_mac("7KQ2M9XD", "1a2b3c4d", "sha256:other", record)
    assert not verify_mac("7KQ2M9XD", "1a2b3c4d", digest, {**record, "remember": "always"})
    assert not verify_mac("7KQ2M9XD", "1a2b3c4d", digest, {**record, "mac": None})
    assert "7KQ2M9XD" not in json.dumps(record)


def test_the_call_digest_covers_server_method_and_params_but_not_meta():
    params = {"name": "write", "arguments": {"a": 1}}
    base = call_digest("files", call_of("tools/call", params))
    assert call_digest("files", call_of("tools/call", {**params, "_meta": {"progressToken": 3}})) == base
    assert call_digest("files2", call_of("tools/call", params)) != base
    assert call_digest("files", call_of("tools/call", {**params, "arguments": {"a": 1, "b": 2}})) != base
    assert call_digest("files", call_of("tools/call", {**params, "arguments": {"a": True}})) != base


def test_entries_of_dead_processes_are_cleaned(tmp_path):
    q = ApprovalQueue(tmp_path / "approvals")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    approval_id = q.submit(entry())
    path = tmp_path / "approvals" / f"{approval_id}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": int(dead)}))
    assert q.pending() == []
    assert not path.exists()
    with pytest.raises(ApprovalError):
        q.send_decision(approval_id, "approve")


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
        q.send_decision(approval_id, "approve")
    assert q.pending() == []
