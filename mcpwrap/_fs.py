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

Opening mcpwrap's own files (everything under ``MCPWRAP_HOME``, and the audit log wherever it is)
- :func:`open_file` — the one way: the last path component is opened with ``O_NOFOLLOW`` relative to a
  descriptor of its directory (no link is followed, and the directory checked is the one opened in), then
  checked on the descriptor: a regular file, owned by the user, not writable by group or others (a secret —
  a key — not readable by them either). The directory itself must be the user's (or root's) and not writable
  by others unless sticky (``/tmp``), or whoever can write it could swap the file after the checks. Anything
  else is refused with :class:`~mcpwrap._errors.UnsafeFileError`, one sentence naming the path, the problem
  and the fix; mcpwrap never "repairs" a file that is not its user's. :func:`read_file` reads through it.
- :func:`ensure_dir` — create a directory and each missing parent as 0700 (``mkdir -p`` gives parents the
  umask's mode), then check it like :func:`open_file` checks a file's directory.
On platforms without ``O_NOFOLLOW`` (Windows) the checks that exist there are made.

Everything here creates owner-only files (:data:`PRIVATE_FILE_MODE`) unless told otherwise: state files,
keys and backups of client configurations may hold secrets. This module imports only :mod:`mcpwrap._errors`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ._errors import UnsafeFileError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: byte-range locks instead; atomic renames still keep files whole
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "PRIVATE_FILE_MODE",
    "PRIVATE_DIR_MODE",
    "UnsafeFileError",
    "open_file",
    "read_file",
    "ensure_dir",
    "check_dir",
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
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO planted at the path must not hang the open
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_LINK_ERRNOS = (errno.ELOOP, errno.EMLINK)  # O_NOFOLLOW meeting a link: ELOOP (Linux), EMLINK (FreeBSD)
OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH  # no file or directory mcpwrap trusts may have these
OTHERS_ANY = 0o077  # a secret (a key) may have none of the group/other bits


# --- opening mcpwrap's own files --------------------------------------------------------------------------------


def _euid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _owner_text(uid: int) -> str:
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(mode):
            return name
    return "a special file"


def _check_dir_stat(st: os.stat_result, path: str, what: str) -> None:
    euid = _euid()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{path}, which should hold the {what}, is {_kind(st.st_mode)}, not a directory", path)
    if euid is not None and st.st_uid not in (euid, 0):
        raise UnsafeFileError(
            f"directory {path} (holding the {what}) belongs to {_owner_text(st.st_uid)}, not to you: whoever owns it can "
            f"replace the {what}; use a directory of your own",
            path,
        )
    if st.st_mode & OTHERS_WRITE and not st.st_mode & stat.S_ISVTX:
        raise UnsafeFileError(
            f"directory {path} (holding the {what}) can be written by other users (mode {stat.S_IMODE(st.st_mode):04o}), who "
            f"could replace the {what}; run: chmod go-w {path}",
            path,
        )


def check_dir(path: str | os.PathLike, *, what: str = "files of mcpwrap") -> None:
    """Refuse (:class:`UnsafeFileError`) a directory another user could change: see the module docstring."""
    p = os.fspath(path)
    _check_dir_stat(os.stat(p), p, what)


def ensure_dir(path: str | os.PathLike, *, what: str = "files of mcpwrap") -> Path:
    """Create ``path`` and each missing parent with mode 0700, then :func:`check_dir` it; returns it."""
    target = Path(os.path.abspath(os.fspath(path)))
    missing: list[Path] = []
    p = target
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR_MODE)
        except FileExistsError:  # created meanwhile by another mcpwrap process: checked below like any other
            pass
    check_dir(target, what=what)
    return target


def _check_file_stat(st: os.stat_result, path: str, what: str, secret: bool) -> None:
    euid = _euid()
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"the {what} {path} is {_kind(st.st_mode)}; mcpwrap uses only regular files: remove it or choose another path", path)
    if euid is not None and st.st_uid != euid:
        raise UnsafeFileError(
            f"the {what} {path} belongs to {_owner_text(st.st_uid)}, not to you ({_owner_text(euid)}); mcpwrap never uses "
            "or changes another user's file: remove it as its owner, or choose another path",
            path,
        )
    bad = OTHERS_ANY if secret else OTHERS_WRITE
    if os.name == "posix" and st.st_mode & bad:
        if secret:
            raise UnsafeFileError(
                f"the {what} {path} is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}", path
            )
        raise UnsafeFileError(
            f"the {what} {path} can be written by other users (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod go-w {path}", path
        )


def open_file(
    path: str | os.PathLike,
    flags: int = os.O_RDONLY,
    *,
    create: bool = False,
    mode: int = PRIVATE_FILE_MODE,
    secret: bool = False,
    what: str = "file",
    owned: bool = True,
) -> int:
    """Open one of mcpwrap's own files without following a link, and check it (see the module docstring).

    ``flags`` are the access flags (``O_RDWR | O_APPEND``…); ``create`` adds ``O_CREAT`` with ``mode``. Returns
    a descriptor (close-on-exec). Raises :class:`FileNotFoundError` when it does not exist and ``create`` is
    False, :class:`UnsafeFileError` when it (or its directory) is not safe to use, other :class:`OSError`s as
    the system reports them. ``owned=False`` (readers of audit logs, which may be another user's to read)
    keeps only "no link, a regular file".
    """
    p = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(p))
    flags |= _CLOEXEC | _NOFOLLOW | _NONBLOCK | (os.O_CREAT if create else 0)
    if not _NOFOLLOW or os.open not in os.supports_dir_fd:  # pragma: no cover - not POSIX
        fd = os.open(p, flags, mode)
    else:
        dfd = os.open(directory, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        try:
            if owned:
                _check_dir_stat(os.fstat(dfd), directory, what)
            try:
                fd = os.open(name, flags, mode, dir_fd=dfd)
            except OSError as exc:
                if exc.errno in _LINK_ERRNOS and stat.S_ISLNK(os.lstat(name, dir_fd=dfd).st_mode):
                    raise UnsafeFileError(
                        f"the {what} {p} is a symbolic link; mcpwrap does not follow links to its files (writes could land in "
                        "any file the link names): remove the link, or give the real path",
                        p,
                    ) from None
                raise
        finally:
            os.close(dfd)
    try:
        st = os.fstat(fd)
        if owned:
            _check_file_stat(st, p, what, secret)
            if flags & (os.O_WRONLY | os.O_RDWR) and st.st_nlink > 1:
                # A hard link is a second name of some other file (a shell start-up file, a client config):
                # O_NOFOLLOW does not see it, and appending here would write there.
                raise UnsafeFileError(
                    f"the {what} {p} has {st.st_nlink} names (a hard link to another file); mcpwrap does not write to it: "
                    "move it away and let mcpwrap create a new one",
                    p,
                )
        elif not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(f"the {what} {p} is {_kind(st.st_mode)}, not a regular file", p)
        if _NONBLOCK and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path: str | os.PathLike, *, secret: bool = False, what: str = "file", owned: bool = True) -> bytes:
    """The content of one of mcpwrap's own files, opened with :func:`open_file` (FileNotFoundError if absent)."""
    fd = open_file(path, os.O_RDONLY, secret=secret, what=what, owned=owned)
    with os.fdopen(fd, "rb") as f:
        return f.read()


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
    import tempfile  # here, not at the top: `wrap` imports this module before it spawns the server

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
            self.fd = open_file(self.path, os.O_RDWR, create=True, what="lock file")
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
