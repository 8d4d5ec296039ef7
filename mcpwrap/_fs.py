"""Small file-system tools every state file of mcpwrap uses: one implementation each.

Writing
- :func:`write_temp` — the shared first step: the new content goes to a fresh temporary file in the target's
  directory (so the final rename never crosses a file system), gets its mode (and owner, when asked), and is
  flushed to disk before anyone can see it under the real name. A failure removes the temporary file.
- :func:`atomic_write` — replace a file whole or not at all: :func:`write_temp`, then ``rename`` over the
  target, then the directory is flushed so the rename survives a power loss. Readers never see a torn file.
- :func:`create_new` — create a file that must not exist yet: :func:`write_temp`, then ``link`` to the final
  name. ``link`` fails when the name exists, so of two concurrent creators exactly one wins and nobody ever
  sees a half-written file (``O_EXCL`` on the final name would show a partial file after a crash).

Locking
- :class:`FileLock` — an exclusive advisory lock (``flock``) on a lock file, for a read-modify-write of the
  file it guards, so several mcpwrap processes (one per wrapped server) never lose each other's updates. The
  lock file is separate from the data file because the data file is replaced by rename (a lock on the old
  inode would guard nothing). The descriptor may be kept open between uses (the audit writer locks on every
  flush); the kernel releases the lock when its holder dies, so a killed process never leaves it held.
  ``acquire(timeout=…)`` waits at most that long and raises :class:`TimeoutError` (for commands a person runs:
  better a clear "busy" than a hang).
- :func:`locked` — the ``with`` form for one read-modify-write: open, lock, run the block, close.

Everything here creates owner-only files (:data:`PRIVATE_FILE_MODE`) unless told otherwise: state files,
keys and backups of client configurations may hold secrets. This module imports nothing of mcpwrap.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: byte-range locks instead; atomic renames still keep files whole
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "PRIVATE_FILE_MODE",
    "PRIVATE_DIR_MODE",
    "fsync_dir",
    "write_temp",
    "atomic_write",
    "create_new",
    "FileLock",
    "locked",
]

PRIVATE_FILE_MODE = 0o600  # state and keys: owner only
PRIVATE_DIR_MODE = 0o700
LOCK_POLL_S = 0.05  # between attempts while waiting for a busy lock with a timeout
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # a wrapped server must not inherit our locks or files


def fsync_dir(directory: str | os.PathLike) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk; best effort where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str | os.PathLike) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_temp(
    target: str | os.PathLike,
    data: bytes | str,
    *,
    mode: int = PRIVATE_FILE_MODE,
    owner: tuple[int, int] | None = None,
    suffix: str = ".tmp",
) -> str:
    """A new temporary file next to ``target`` holding ``data``, flushed to disk; returns its path.

    The name is ``.<target name>.<random><suffix>`` (a dot file: listings of the directory skip it). ``owner``
    is a (uid, gid) to give the file when it differs from ours (keeping a replaced file's owner); a
    :class:`PermissionError` then means it cannot be kept. The caller renames or links the file, or removes it.
    """
    path = Path(target)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)  # O_EXCL, mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            if owner is not None and hasattr(os, "fchown") and owner != (os.geteuid(), os.getegid()):
                os.fchown(f.fileno(), *owner)
            os.fsync(f.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = PRIVATE_FILE_MODE) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring); the file gets ``mode``."""
    target = Path(path)
    tmp = write_temp(target, data, mode=mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(target.parent)
    return target


def create_new(path: str | os.PathLike, data: bytes | str, *, mode: int = PRIVATE_FILE_MODE) -> bool:
    """Create ``path`` holding ``data``, whole, unless it exists: True if created, False if the name was taken
    (by anyone, even a moment ago: the first creator wins and keeps its content)."""
    target = Path(path)
    tmp = write_temp(target, data, mode=mode)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        _unlink_quietly(tmp)
    fsync_dir(target.parent)
    return True


class FileLock:
    """An exclusive ``flock`` on ``path`` (created owner-only if absent); the descriptor stays open until
    :meth:`close`, so a holder that locks often pays one ``open`` only. Not reentrant."""

    __slots__ = ("path", "fd")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self.fd: int | None = None

    def open(self) -> int:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _CLOEXEC, PRIVATE_FILE_MODE)
        return self.fd

    def acquire(self, timeout: float | None = None) -> None:
        """Wait for the lock (at most ``timeout`` seconds, else :class:`TimeoutError`)."""
        fd = self.open()
        if timeout is None:
            _lock(fd, blocking=True)
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                _lock(fd, blocking=False)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{self.path} is held by another process") from None
                time.sleep(LOCK_POLL_S)

    def release(self) -> None:
        if self.fd is not None:
            _unlock(self.fd)

    def close(self) -> None:
        """Close the descriptor (which also releases the lock)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    # The with-form is the audit writer's per-flush path: flock directly when the descriptor is open.
    def __enter__(self) -> FileLock:
        fd = self.fd
        if fd is None or fcntl is None:
            self.acquire()
        else:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fd = self.fd
        if fd is not None:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:  # pragma: no cover
                _unlock(fd)


def _lock(fd: int, *, blocking: bool) -> None:
    """Take the exclusive lock; :class:`BlockingIOError` if not ``blocking`` and another process holds it."""
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    try:  # pragma: no cover - Windows
        import msvcrt
    except ImportError:  # pragma: no cover - neither: one process at a time is all that is promised
        return
    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
    except OSError as exc:  # pragma: no cover
        raise BlockingIOError(str(exc)) from None


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return
    try:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    except (ImportError, OSError):  # pragma: no cover
        pass


@contextlib.contextmanager
def locked(lock_path: str | os.PathLike, *, timeout: float | None = None) -> Iterator[int]:
    """Hold an exclusive lock on ``lock_path`` for the ``with`` block (see :class:`FileLock`); yields its fd."""
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout)
        yield lock.fd  # type: ignore[misc]
    finally:
        lock.close()  # closing releases the lock
