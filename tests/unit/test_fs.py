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


# --- opening mcpwrap's own files (issue 16, item 18) ----------------------------------------------------------

from mcpwrap._errors import UnsafeFileError  # noqa: E402

OTHER_UID = 54321  # a uid nobody on this machine uses: as root, the tests can make files "another user's"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user's needs root (CI runs as root)")


def bashrc(tmp_path: Path) -> Path:
    target = tmp_path / "victim" / ".bashrc"
    target.parent.mkdir()
    target.write_text("# the user's shell start-up\n")
    return target


@pytest.mark.parametrize("create", [True, False])
def test_a_symbolic_link_is_never_followed_and_its_target_is_untouched(tmp_path, create):
    victim = bashrc(tmp_path)
    link = tmp_path / "audit.jsonl"
    link.symlink_to(victim)
    with pytest.raises(UnsafeFileError) as err:
        _fs.open_file(link, os.O_RDWR | os.O_APPEND, create=create, what="audit log")
    assert "symbolic link" in str(err.value) and str(link) in str(err.value) and "remove the link" in str(err.value)
    assert victim.read_text() == "# the user's shell start-up\n"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafeFileError):
        _fs.open_file(dangling, os.O_WRONLY, create=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "audit.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFileError, match="named pipe"):
        _fs.open_file(fifo, os.O_RDONLY)  # without O_NONBLOCK this open would wait for a writer forever


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602, 0o777])
def test_a_file_others_can_write_is_refused_with_the_fix(tmp_path, mode):
    f = tmp_path / "pins.json"
    f.write_text("{}")
    os.chmod(f, mode)
    with pytest.raises(UnsafeFileError) as err:
        _fs.read_file(f, what="pin file")
    assert f"run: chmod go-w {f}" in str(err.value)
    assert stat.S_IMODE(f.stat().st_mode) == mode  # never "fixed" behind the user's back


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_a_secret_others_can_read_is_refused(tmp_path, mode):
    f = tmp_path / "audit.key"
    f.write_text("k" * 64)
    os.chmod(f, mode)
    with pytest.raises(UnsafeFileError, match="chmod 600"):
        _fs.read_file(f, secret=True, what="audit key file")
    os.chmod(f, 0o600)
    assert _fs.read_file(f, secret=True) == b"k" * 64


@needs_root
def test_another_users_file_is_refused_and_left_as_it_is(tmp_path):
    f = tmp_path / "audit.jsonl"
    f.write_text("planted\n")
    os.chmod(f, 0o600)
    os.chown(f, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeFileError) as err:
        _fs.open_file(f, os.O_RDWR | os.O_APPEND, create=True, what="audit log")
    assert f"uid {OTHER_UID}" in str(err.value) and "never uses or changes another user's file" in str(err.value)
    assert f.read_text() == "planted\n" and f.stat().st_uid == OTHER_UID


def test_a_directory_others_can_write_is_refused_unless_sticky(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafeFileError, match=f"run: chmod go-w {shared}"):
        _fs.open_file(shared / "audit.jsonl", os.O_RDWR, create=True, what="audit log")
    assert not (shared / "audit.jsonl").exists()
    os.chmod(shared, 0o1777)  # like /tmp: nobody may rename or remove another's file there
    os.close(_fs.open_file(shared / "audit.jsonl", os.O_RDWR, create=True))


@needs_root
def test_a_directory_of_another_user_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeFileError, match="belongs to uid"):
        _fs.ensure_dir(theirs)


def test_created_files_are_owner_only_and_ensure_dir_makes_every_missing_parent_0700(tmp_path):
    home = tmp_path / "a" / "b" / "mcpwrap-home"
    _fs.ensure_dir(home / "pins")
    for d in (tmp_path / "a", tmp_path / "a" / "b", home, home / "pins"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    os.close(_fs.open_file(home / "pins" / "x.json", os.O_WRONLY, create=True))
    assert stat.S_IMODE((home / "pins" / "x.json").stat().st_mode) == 0o600


def test_the_lock_file_is_opened_the_same_way(tmp_path):
    victim = bashrc(tmp_path)
    (tmp_path / "audit.jsonl.lock").symlink_to(victim)
    with pytest.raises(UnsafeFileError):
        FileLock(tmp_path / "audit.jsonl.lock").open()
