"""The file-system tools every state file uses: whole-file writes, create-if-absent, and the lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mcpwrap import _fs
from mcpwrap._fs import FileLock, atomic_write, create_new, locked, write_temp


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_atomic_write_replaces_the_whole_file_owner_only(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    atomic_write(target, "new content")
    assert target.read_text() == "new content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(target, b"bytes", mode=0o644)
    assert target.read_bytes() == b"bytes" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, failing):
    target = tmp_path / "state.json"
    target.write_text("old")

    def refuse(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_fs.os, failing, refuse)
    with pytest.raises(OSError):
        atomic_write(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_create_new_never_replaces_and_one_of_many_creators_wins(tmp_path):
    target = tmp_path / "decision"
    barrier = threading.Barrier(8)
    won: list[int] = []

    def create(i: int) -> None:
        barrier.wait()
        if create_new(target, f"writer {i}\n" * 1000):
            won.append(i)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert target.read_text() == f"writer {won[0]}\n" * 1000  # whole, and the winner's
    assert not create_new(target, "late") and target.read_text().startswith(f"writer {won[0]}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and leftovers(tmp_path) == []


def test_write_temp_is_a_hidden_flushed_file_with_the_given_mode(tmp_path):
    target = tmp_path / "config.json"
    tmp = Path(write_temp(target, "text", mode=0o640, suffix=".mcpwrap-tmp"))
    assert tmp.parent == tmp_path and tmp.name.startswith(".config.json.") and tmp.name.endswith(".mcpwrap-tmp")
    assert tmp.read_text() == "text" and stat.S_IMODE(tmp.stat().st_mode) == 0o640
    assert not target.exists()  # the caller decides: rename, link, or remove


HOLDER = textwrap.dedent(
    """
    import sys
    from mcpwrap._fs import FileLock
    lock = FileLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.readline()  # hold until told (or killed)
    """
)


def hold(lock_path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_the_lock_excludes_another_process_until_it_lets_go_or_dies(tmp_path):
    lock_path = tmp_path / "x.lock"
    holder = hold(lock_path)
    try:
        with pytest.raises(TimeoutError):
            FileLock(lock_path).acquire(timeout=0.2)
        with pytest.raises(TimeoutError), locked(lock_path, timeout=0.1):
            pass
    finally:
        holder.kill()  # the kernel releases a dead holder's lock
        holder.wait(timeout=30)
    with locked(lock_path, timeout=5) as fd:
        assert fd >= 0
    assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600


def test_a_kept_lock_is_released_between_uses(tmp_path):
    lock_path = tmp_path / "log.lock"
    mine = FileLock(lock_path)
    with mine:
        with pytest.raises(TimeoutError):
            FileLock(lock_path).acquire(timeout=0.1)
    other = FileLock(lock_path)
    other.acquire(timeout=1)  # free again, although `mine` keeps its descriptor open
    other.close()
    assert mine.fd is not None and os.fstat(mine.fd)
    mine.close()
    assert mine.fd is None
