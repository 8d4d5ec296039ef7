"""The audit chain: sealing, verification, and one tamper test per kind of damage."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcpwrap._audit.writer import AuditLog, AuditSettings
from mcpwrap._audit.chain import (
    GENESIS,
    KEY_ENV,
    Sealer,
    init_key,
    key_id,
    load_key,
    log_files,
    parse_sealed,
    process_state,
    read_chain_tail,
    verify,
    wrapper_identity,
)
from mcpwrap._errors import AuditError
from mcpwrap._message import Session

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def running(_ident):
    return "running"


def gone(_ident):
    return "gone"


def write_log(path: Path, *, key: bytes | None = KEY, sessions: int = 2, messages: int = 4, end: bool = True, settings=None) -> Path:
    """Interleaved sessions, as several mcpwrap processes would write them to one log."""
    logs = [AuditLog(path, Session(f"s{i}", f"server{i}", "alice"), settings, key=key) for i in range(sessions)]
    for log in logs:
        log.record("session-start", command=["srv"], pid=1)
        log.flush()
    for m in range(messages):
        for log in logs:
            log.record("message", direction="c2s", kind="request", id=m, method="tools/call", tool="echo", action="pass")
            log.record("message", direction="s2c", kind="result", id=m, method="tools/call", tool="echo", action="pass", latency_ms=1.5)
            log.flush()
    for log in logs:
        if end:
            log.record("session-end", exit_code=0)
        log.close()
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def kinds(report) -> list[str]:
    return [p.kind for p in report.problems]


@pytest.fixture
def log(tmp_path):
    return write_log(tmp_path / "audit.jsonl")


# --- intact logs -------------------------------------------------------------------------------------------------


def test_intact_keyed_log_verifies(log):
    report = verify([log], KEY, state_of=gone)
    assert report.exit_code == 0, report.as_dict()
    assert report.records == 2 + 2 * 4 * 2 + 2
    assert report.sessions == 2 and report.ended == 2
    assert report.authenticated and report.key_ids == {key_id(KEY)}


def test_record_format_is_chain_fields_after_the_serialised_record(log):
    first, second = lines_of(log)[:2]
    rec = json.loads(first)
    assert list(rec)[:5] == ["ts", "event", "session", "server", "subject"]
    assert list(rec)[-5:] == ["seq", "n", "prev", "kid", "h"]
    assert rec["prev"] == GENESIS.decode() and rec["n"] == 0 and rec["seq"] == 0
    assert rec["wrapper"]["pid"] == os.getpid()
    assert json.loads(second)["prev"] == rec["h"]


def test_unkeyed_log_is_a_plain_sha256_chain(tmp_path):
    path = write_log(tmp_path / "plain.jsonl", key=None)
    rec = json.loads(lines_of(path)[0])
    assert "kid" not in rec
    report = verify([path], None, state_of=gone)
    assert report.exit_code == 0 and not report.authenticated


def test_mac_covers_exact_bytes_before_h(log):
    line = lines_of(log)[3].rstrip(b"\n")
    seq, n, prev, kid, h, signed = parse_sealed(line)
    assert signed + b',"h":"' + h + b'"}' == line
    assert Sealer(KEY).mac(signed) == h


# --- one test per kind of damage -----------------------------------------------------------------------------------


def tamper(path: Path, edit) -> Path:
    lines = lines_of(path)
    edit(lines)
    out = path.with_name("tampered.jsonl")
    out.write_bytes(b"".join(lines))
    return out


def test_edited_record_is_reported_at_its_line(log):
    def edit(lines):
        lines[5] = lines[5].replace(b'"action":"pass"', b'"action":"block"')

    report = verify([tamper(log, edit)], KEY, state_of=gone)
    assert report.exit_code == 1
    assert report.first.line == 6 and report.first.kind == "edited"


def test_edit_with_recomputed_plain_hash_is_caught_by_the_successor(tmp_path):
    path = write_log(tmp_path / "plain.jsonl", key=None)

    def edit(lines):
        seq, n, prev, kid, h, signed = parse_sealed(lines[4].rstrip(b"\n"))
        forged = signed.replace(b'"tool":"echo"', b'"tool":"ecko"')
        lines[4] = forged + b',"h":"' + Sealer(None).mac(forged) + b'"}\n'

    report = verify([tamper(path, edit)], None, state_of=gone)
    assert report.first.line == 5 and report.first.kind == "edited"


@pytest.mark.parametrize("index", [0, 5, 9])
def test_deleted_record(log, index):
    report = verify([tamper(log, lambda lines: lines.pop(index))], KEY, state_of=gone)
    assert report.exit_code == 1
    assert report.first.kind == "deleted"
    assert report.first.line == index + 1  # the line after the gap


def test_deleted_whole_session_is_caught_by_the_global_chain(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", sessions=3)
    s1 = [i for i, line in enumerate(lines_of(path)) if json.loads(line)["session"] == "s1"]

    def edit(lines):
        for i in reversed(s1):
            lines.pop(i)

    report = verify([tamper(path, edit)], KEY, state_of=gone)
    assert "deleted" in kinds(report)


def test_inserted_forged_record(log):
    def edit(lines):
        fake = json.loads(lines[4])
        fake["tool"] = "rm-rf"
        lines.insert(5, json.dumps(fake, separators=(",", ":")).encode() + b"\n")

    report = verify([tamper(log, edit)], KEY, state_of=gone)
    assert report.first.line == 6 and report.first.kind == "inserted"


def test_inserted_replayed_copy(log):
    report = verify([tamper(log, lambda lines: lines.insert(8, lines[3]))], KEY, state_of=gone)
    assert report.first.line == 9 and report.first.kind == "inserted"
    assert "copy of the record at" in report.first.message


def test_inserted_unsealed_line(log):
    line = b'{"ts":"2026-01-01T00:00:00Z","event":"message","action":"pass"}\n'
    report = verify([tamper(log, lambda lines: lines.insert(2, line))], KEY, state_of=gone)
    assert report.first.line == 3 and report.first.kind == "inserted"


def test_reordered_records(log):
    def edit(lines):
        lines[6], lines[7] = lines[7], lines[6]

    report = verify([tamper(log, edit)], KEY, state_of=gone)
    assert report.first.line == 7 and report.first.kind == "reordered"
    assert "deleted" not in kinds(report)


def test_truncated_tail_session_without_end_whose_process_is_gone(log):
    lines = lines_of(log)
    ends = [i for i, line in enumerate(lines) if b'"session-end"' in line]
    cut = tamper(log, lambda ls: ls.__delitem__(slice(ends[0], None)))
    report = verify([cut], KEY, state_of=gone)
    assert kinds(report) == ["truncated", "truncated"]
    assert "no end record" in report.first.message and "killed" in report.first.message
    # The same file while its writers still run: open sessions, not damage.
    still_running = verify([cut], KEY, state_of=running)
    assert still_running.exit_code == 0 and len(still_running.running) == 2


def test_wrong_key(log):
    report = verify([log], OTHER_KEY, state_of=gone)
    assert report.exit_code == 1
    assert report.first.kind == "wrong-key" and report.first.line == 1
    assert key_id(KEY) in report.first.message


def test_plain_log_verified_with_a_key_is_unauthenticated(tmp_path):
    path = write_log(tmp_path / "plain.jsonl", key=None)
    report = verify([path], KEY, state_of=gone)
    assert report.first.kind == "unauthenticated"


def test_keyed_log_without_key_is_unusable(log):
    report = verify([log], None, state_of=gone)
    assert report.exit_code == 2 and key_id(KEY) in report.unusable


def test_torn_last_line(log):
    report = verify([tamper(log, lambda lines: lines.__setitem__(-1, lines[-1][:40]))], KEY, state_of=gone)
    torn = [p for p in report.problems if p.kind == "torn"]
    assert [p.line for p in torn] == [len(lines_of(log))]
    # The cut record was the last session's end: that session now ends without one.
    assert [p.kind for p in report.problems] == ["truncated", "torn"]


def test_not_a_log_and_missing_file_are_unusable(tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    assert verify([junk], None).exit_code == 2
    assert verify([tmp_path / "nope.jsonl"], None).exit_code == 2


# --- writers continuing after damage, and killed writers ----------------------------------------------------------


def test_writer_continues_the_chain_after_a_torn_line(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", key=None, sessions=1, messages=1)
    with open(path, "ab") as f:
        f.write(b'{"ts":"2026')  # a write cut short (disk full)
    log = AuditLog(path, Session("s9", "x"), key=None)
    log.record("session-start")
    log.record("session-end")
    log.close()
    report = verify([path], None, state_of=gone)
    assert kinds(report) == ["malformed"]  # only the fragment; the chain links across it
    assert report.sessions == 2 and report.ended == 2


def test_read_chain_tail_finds_the_last_record_of_a_long_line(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, Session("s", "x"), key=None)
    log.record("session-start", blob="x" * 20000)
    log.flush()
    fd = os.open(path, os.O_RDONLY)
    try:
        n, prev, torn = read_chain_tail(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    assert n == 1 and prev == json.loads(path.read_text())["h"].encode() and not torn


def test_process_state_of_this_process_and_a_dead_one():
    me = wrapper_identity()
    assert process_state(me) == "running"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_state({**me, "pid": child.pid, "started": None}) == "gone"
    assert process_state({**me, "started": "1"}) == "gone"  # pid reused by another process
    assert process_state({**me, "host": "elsewhere"}) == "unknown"


# --- rotation -----------------------------------------------------------------------------------------------------


def test_rotation_keeps_one_chain_across_files(tmp_path):
    path = tmp_path / "audit.jsonl"
    settings = AuditSettings(rotate_size=64 * 1024)
    write_log(path, sessions=3, messages=120, settings=settings)
    files = log_files(path)
    assert len(files) >= 3, files
    first_of_new = json.loads(lines_of(files[1])[0])
    assert first_of_new["event"] == "log-rotated" and first_of_new["previous"] == files[0].name
    assert verify(files, KEY, state_of=gone).exit_code == 0
    # A later file alone: checked from its first record, with a note; sessions may have begun earlier.
    alone = verify(files[-1:], KEY, state_of=gone)
    assert alone.exit_code == 0 and "not given" in alone.notes[0]
    # A rotated file in the middle removed: records are missing.
    gap = verify([files[0], *files[2:]], KEY, state_of=gone)
    assert gap.first.kind == "deleted"


# --- keys ---------------------------------------------------------------------------------------------------------


def test_init_key_writes_0600_and_refuses_to_replace(mcpwrap_home):
    path, kid = init_key()
    assert path == mcpwrap_home / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key() == path.read_bytes().strip() and key_id(load_key()) == kid
    with pytest.raises(AuditError, match="already exists"):
        init_key()
    _, kid2 = init_key(force=True)
    assert kid2 != kid


def test_key_from_environment_wins(mcpwrap_home, monkeypatch):
    init_key()
    monkeypatch.setenv(KEY_ENV, "an-environment-key-of-some-length")
    assert load_key() == b"an-environment-key-of-some-length"


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "k"
    path.write_text("x" * 64)
    path.chmod(0o644)
    with pytest.raises(AuditError, match="chmod 600"):
        load_key(path)


def test_short_key_is_refused(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(AuditError, match="too short"):
        load_key()


def test_no_key_configured_means_plain_chain(mcpwrap_home):
    assert load_key() is None
    log = AuditLog(mcpwrap_home / "a.jsonl")
    assert log.key_id is None
    log.close()


# --- any single change is noticed -----------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PROPERTY_LOG: list[bytes] = []


def _property_log(tmp_path_factory) -> list[bytes]:
    if not _PROPERTY_LOG:
        path = write_log(tmp_path_factory.mktemp("prop") / "audit.jsonl", sessions=2, messages=3)
        _PROPERTY_LOG.extend(lines_of(path))
    return list(_PROPERTY_LOG)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(["delete", "duplicate", "swap", "flip", "move"]), i=st.integers(0, 10_000), j=st.integers(0, 10_000), bit=st.integers(0, 6))
def test_any_single_change_to_a_keyed_log_is_reported(tmp_path_factory, op, i, j, bit):
    lines = _property_log(tmp_path_factory)
    a, b = i % len(lines), j % len(lines)
    if op == "delete":
        del lines[a]
    elif op == "duplicate":
        lines.insert(b, lines[a])
    elif op == "swap":
        if a == b:
            b = (a + 1) % len(lines)
        lines[a], lines[b] = lines[b], lines[a]
    elif op == "move":
        moved = lines.pop(a)
        lines.insert(b if b != a else (a + 1) % (len(lines) + 1), moved)
    else:  # flip one bit of one byte (not the newline, which would only split the line)
        line = bytearray(lines[a])
        pos = j % (len(line) - 1)
        line[pos] ^= 1 << bit
        if b"\n" in line[:-1]:
            line[pos] ^= 1 << bit
            line[pos] ^= 1
        lines[a] = bytes(line)
    path = tmp_path_factory.mktemp("damaged") / "audit.jsonl"
    path.write_bytes(b"".join(lines))
    report = verify([path], KEY, state_of=gone)
    assert report.exit_code == 1 and report.problems, (op, a, b)
