"""Small file-system tools every state file of mcpwrap uses: one implementation each.

- :func:`atomic_write` — a file is replaced whole or not at all: the new content goes to a temporary file in
  the same directory, is flushed to disk, gets its mode, and is renamed over the target; the directory is then
  flushed too, so the rename survives a power loss. Readers never see a torn file.
- :func:`locked` — an exclusive advisory lock (``flock``) on a lock file, held for a read-modify-write of the
  file it guards, so several mcpwrap processes (one per wrapped server) never lose each other's updates. The
  lock file is separate from the data file because the data file is replaced by rename (a lock on the old
  inode would guard nothing).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "locked", "fsync_dir", "PRIVATE_FILE_MODE", "PRIVATE_DIR_MODE"]

PRIVATE_FILE_MODE = 0o600  # state and keys: owner only
PRIVATE_DIR_MODE = 0o700


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


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int = PRIVATE_FILE_MODE) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module docstring); the file gets ``mode``."""
    target = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return target


@contextlib.contextmanager
def locked(lock_path: str | os.PathLike) -> Iterator[int]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created owner-only if absent) for the ``with`` block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE_FILE_MODE)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: atomic renames still keep files whole
            yield fd
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
