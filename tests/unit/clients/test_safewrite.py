"""Locked, merged, atomic, backed-up writes of a user's configuration file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from mcpwrap._clients import safewrite as _safewrite
from mcpwrap._clients.safewrite import MAX_MERGE_ATTEMPTS, backups_dir, update_file
from mcpwrap._errors import ClientConfigError


def add_key(key, value):
    def transform(text):
        doc = json.loads(text)
        if doc.get(key) == value:
            return None
        doc[key] = value
        return json.dumps(doc, indent=2) + "\n"

    return transform


def leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".mcpwrap-tmp")]


def test_writes_new_text_keeping_mode_and_backing_up_the_old(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"a": 1}')
    f.chmod(0o640)
    result = update_file(f, add_key("b", 2))
    assert result.changed and result.merges == 0
    assert json.loads(f.read_text()) == {"a": 1, "b": 2}
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert result.backup.parent == backups_dir() and result.backup.read_text() == '{"a": 1}'
    assert stat.S_IMODE(result.backup.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_no_change_means_no_write_and_no_backup(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"b": 2}')
    before = f.stat()
    result = update_file(f, add_key("b", 2))
    assert not result.changed and result.backup is None
    assert f.stat().st_ino == before.st_ino and not backups_dir().exists()


def test_a_symlinked_file_is_updated_at_its_target(tmp_path):
    target = tmp_path / "dotfiles" / "claude.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / ".claude.json"
    link.symlink_to(target)
    update_file(link, add_key("x", 1))
    assert link.is_symlink() and json.loads(target.read_text()) == {"x": 1}


def test_a_concurrent_writer_change_is_kept(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"a": 1}')
    rewriter = (
        "import json, sys, os; p = sys.argv[1]; d = json.load(open(p)); d['written_by_client'] = True;"
        "t = p + '.client'; open(t, 'w').write(json.dumps(d)); os.replace(t, p)"
    )

    def another_process_writes(attempt):
        if attempt == 0:  # between our read and our rename, as a running client would
            subprocess.run([sys.executable, "-c", rewriter, str(f)], check=True)

    result = update_file(f, add_key("ours", 1), _before_commit=another_process_writes)
    assert result.merges == 1
    assert json.loads(f.read_text()) == {"a": 1, "written_by_client": True, "ours": 1}
    assert json.loads(result.backup.read_text()) == {"a": 1, "written_by_client": True}
    assert leftovers(tmp_path) == []


def test_a_file_that_never_settles_is_left_alone(tmp_path):
    f = tmp_path / "config.json"
    f.write_text("{}")
    counter = iter(range(1000))

    def always_rewrite(attempt):
        f.write_text(json.dumps({"n": next(counter)}))

    with pytest.raises(ClientConfigError, match=f"changed by another program {MAX_MERGE_ATTEMPTS} times"):
        update_file(f, add_key("ours", 1), _before_commit=always_rewrite)
    assert "ours" not in json.loads(f.read_text())
    assert leftovers(tmp_path) == []


def test_a_failed_rename_leaves_the_original_and_no_temp_file(tmp_path, monkeypatch):
    f = tmp_path / "config.json"
    f.write_text('{"a": 1}')

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_safewrite.os, "replace", refuse)
    with pytest.raises(ClientConfigError, match="cannot replace: Permission denied; not modified"):
        update_file(f, add_key("b", 2))
    assert f.read_text() == '{"a": 1}' and leftovers(tmp_path) == []


def test_a_failed_fsync_leaves_the_original(tmp_path, monkeypatch):
    f = tmp_path / "config.json"
    f.write_text('{"a": 1}')

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_safewrite.os, "fsync", full_disk)
    with pytest.raises(ClientConfigError, match="No space left on device"):
        update_file(f, add_key("b", 2))
    assert f.read_text() == '{"a": 1}' and leftovers(tmp_path) == []


def test_stale_temp_files_of_a_killed_run_are_removed(tmp_path):
    f = tmp_path / "config.json"
    f.write_text("{}")
    stale = tmp_path / ".config.json.abc123.mcpwrap-tmp"
    stale.write_text('{"half')
    unrelated = tmp_path / ".other.json.abc.mcpwrap-tmp"
    unrelated.write_text("")
    update_file(f, add_key("x", 1))
    assert not stale.exists() and unrelated.exists()


def test_missing_and_non_utf8_files_are_reported(tmp_path):
    with pytest.raises(ClientConfigError, match="no such file"):
        update_file(tmp_path / "absent.json", add_key("x", 1))
    bad = tmp_path / "latin1.json"
    bad.write_bytes(b'{"a": "caf\xe9"}')
    with pytest.raises(ClientConfigError, match="not UTF-8"):
        update_file(bad, add_key("x", 1))
    assert bad.read_bytes() == b'{"a": "caf\xe9"}'


def test_the_lock_excludes_a_second_mcpwrap(tmp_path, monkeypatch):
    f = tmp_path / "config.json"
    f.write_text("{}")
    monkeypatch.setattr(_safewrite, "LOCK_TIMEOUT_S", 0.2)
    with _safewrite._Lock(f.resolve()):
        holder = subprocess.run(
            [sys.executable, "-c", "import mcpwrap._clients.safewrite as s, pathlib, sys; s.LOCK_TIMEOUT_S = 0.2;"
             "s._Lock(pathlib.Path(sys.argv[1])).__enter__()", str(f.resolve())],
            capture_output=True, text=True, env={**os.environ}, timeout=60,
        )
    assert holder.returncode != 0 and "lock busy" in holder.stderr


def test_the_clients_own_lock_is_taken_for_the_rename_and_released(tmp_path):
    f = tmp_path / ".claude.json"
    f.write_text("{}")
    lock = tmp_path / ".claude.json.lock"
    seen = []

    def check(attempt):
        seen.append(lock.exists())

    update_file(f, add_key("x", 1), client_lock=lock, _before_commit=check)
    assert seen == [False]  # not held while computing: the client may need it to save its own state
    assert json.loads(f.read_text()) == {"x": 1} and not lock.exists()


def test_a_busy_client_lock_means_no_change(tmp_path, monkeypatch):
    f = tmp_path / ".claude.json"
    f.write_text("{}")
    lock = tmp_path / ".claude.json.lock"
    lock.mkdir()  # held by the client (fresh mtime)
    monkeypatch.setattr(_safewrite, "CLIENT_LOCK_WAIT_S", 0.2)
    with pytest.raises(ClientConfigError, match="held by the client writing this file"):
        update_file(f, add_key("x", 1), client_lock=lock)
    assert f.read_text() == "{}" and lock.is_dir() and leftovers(tmp_path) == []
    assert not backups_dir().exists() or list(backups_dir().iterdir()) == []


def test_an_abandoned_client_lock_is_taken_over(tmp_path):
    f = tmp_path / ".claude.json"
    f.write_text("{}")
    lock = tmp_path / ".claude.json.lock"
    lock.mkdir()
    old = time.time() - 60
    os.utime(lock, (old, old))  # a client that crashed holding it
    update_file(f, add_key("x", 1), client_lock=lock)
    assert json.loads(f.read_text()) == {"x": 1} and not lock.exists()
