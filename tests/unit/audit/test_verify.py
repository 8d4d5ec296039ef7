"""Verification: an intact log, one tamper test per kind of damage, and any single change is noticed."""

from __future__ import annotations

import json

import pytest
from audit_factories import KEY, OTHER_KEY, gone, kinds, lines_of, running, tamper, write_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpwrap._audit.keys import key_id
from mcpwrap._audit.seal import Sealer, parse_sealed
from mcpwrap._audit.verify import verify


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


# --- one test per kind of damage -----------------------------------------------------------------------------------


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


# --- any single change is noticed -----------------------------------------------------------------------------------


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


def test_a_record_relabelled_with_another_key_is_not_taken_for_a_record_before_the_key(tmp_path):
    # The first records of a keyed log given another key id (so their MAC goes unchecked) and new content: only a
    # key-added marker may start the key's segment after other records, so these are damage, not "before the key".
    lines = lines_of(write_log(tmp_path / "audit.jsonl", sessions=2, messages=3))
    for i in (0, 1):
        head, kid, tail = lines[i].partition(b'"kid":"')
        lines[i] = head.replace(b'"event":"session-start"', b'"event":"session-start","note":"edited"') + kid + b"0" * 16 + tail[16:]
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"".join(lines))
    report = verify([damaged], KEY, state_of=gone)
    assert report.exit_code == 1 and report.before_key == 0
    assert any(p.kind == "wrong-key" for p in report.problems)
