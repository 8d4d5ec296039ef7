"""Rotation: one chain across the rotated files and the live file, and how the files are named and found."""

from __future__ import annotations

import json

from audit_factories import KEY, gone, lines_of, write_log

from mcpwrap._audit.files import expand, log_files, rotated_files, rotated_name
from mcpwrap._audit.verify import verify
from mcpwrap._audit.writer import AuditSettings


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


def test_rotated_names_sort_in_time_and_never_collide(tmp_path):
    path = tmp_path / "audit.jsonl"
    names = []
    for _ in range(3):  # within one microsecond or not, each name is free when taken
        name = rotated_name(path)
        open(name, "w").close()
        names.append(name)
    assert len(set(names)) == 3
    assert [str(p) for p in rotated_files(path)] == sorted(names)
    (tmp_path / "audit.jsonl.bak").write_text("")  # not a rotated file
    (tmp_path / "other.jsonl.20260101T000000.000000Z").write_text("")  # another log's
    assert len(rotated_files(path)) == 3


def test_expand_lists_each_log_with_its_predecessors_once(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    older = tmp_path / "audit.jsonl.20260101T000000.000000Z"
    older.write_text("")
    assert expand([path, path]) == [older, path]
    missing = tmp_path / "none.jsonl"
    assert log_files(missing) == [missing]  # named even when absent, so the reader can say so


def test_the_oldest_rotated_file_deleted_is_reported(tmp_path):
    # mcpwrap never removes a rotated file, so a file the chain continues from that is gone took records with it
    # (a file that exists but was not given is only a partial check, as above).
    path = tmp_path / "audit.jsonl"
    write_log(path, sessions=3, messages=120, settings=AuditSettings(rotate_size=64 * 1024))
    files = log_files(path)
    files[0].unlink()
    report = verify(log_files(path), KEY, state_of=gone)
    assert report.exit_code == 1 and report.first.kind == "deleted" and files[0].name in report.first.message
