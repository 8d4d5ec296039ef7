"""Safe read-modify-write of a user's configuration file.

The files mcpwrap edits (``~/.claude.json`` above all) hold a client's whole state, and the client may rewrite
them at any moment while it runs. :func:`update_file` therefore:

1. takes an exclusive lock (:class:`mcpwrap._fs.FileLock` on a lock file under ``$MCPWRAP_HOME/locks/``, so
   that two mcpwrap processes never interleave; clients do not take it, which is why the next steps exist);
2. reads the file and computes the new text with a pure function ``transform(text) -> text | None``;
3. writes the new text to a temporary file in the same directory (:func:`mcpwrap._fs.write_temp`), fsyncs it,
   gives it the original's mode and owner;
4. re-reads the file right before the rename: if someone changed it meanwhile, the transform is computed again
   on the fresh text (their change is kept, ours is re-applied), up to :data:`MAX_MERGE_ATTEMPTS` times; for a
   client that locks its own writes (Claude Code: ``~/.claude.json.lock``), this re-read and the rename hold
   that lock too, so such a writer cannot slip in between;
5. keeps a timestamped backup of the version being replaced under ``$MCPWRAP_HOME/backups/`` (mode 0600: these
   files may hold tokens; written whole or not at all, :func:`mcpwrap._fs.create_new`), then renames the
   temporary file over the original and fsyncs the directory.

The rename is atomic, so a reader (or a crash at any instant) sees either the old or the new file, never a
truncated one. A symlinked config file (dotfile managers) is updated at its target, keeping the link.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._errors import ClientConfigError
from .._fs import FileLock, create_new, ensure_dir, fsync_dir, write_temp
from .._paths import backups_dir as _backups_dir
from .._paths import locks_dir

__all__ = ["MAX_MERGE_ATTEMPTS", "LOCK_TIMEOUT_S", "WriteResult", "read_text", "update_file", "backups_dir"]

CLIENT_LOCK_STALE_S = 10.0  # proper-lockfile's default: a lock directory untouched this long is abandoned
CLIENT_LOCK_WAIT_S = 2.0  # a client holds its lock only for one write: a few milliseconds
MAX_MERGE_ATTEMPTS = 5  # a file rewritten this often while we merge is being hammered: give up rather than spin
LOCK_TIMEOUT_S = 10.0  # another mcpwrap editing the same file finishes in well under a second
TEMP_SUFFIX = ".mcpwrap-tmp"  # our temporary files beside a client's file, found again if we were killed


def backups_dir() -> Path:
    return _backups_dir()


@dataclass
class WriteResult:
    path: Path
    changed: bool
    backup: Path | None = None
    merges: int = 0  # how many times a concurrent change was merged


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ClientConfigError(f"{path}: is a directory, expected a JSON file") from None
    except OSError as exc:
        raise ClientConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None


class _Lock:
    """mcpwrap's own lock on one client file: waits at most :data:`LOCK_TIMEOUT_S`, then says who holds it."""

    def __init__(self, target: Path) -> None:
        digest = hashlib.sha256(os.fsencode(str(target))).hexdigest()[:16]
        self.path = locks_dir() / f"{re.sub(r'[^A-Za-z0-9._-]', '_', target.name)}-{digest}.lock"
        self._lock = FileLock(self.path)

    def __enter__(self) -> _Lock:
        try:
            ensure_dir(self.path.parent, what="lock files")
            self._lock.open()
        except OSError as exc:
            raise ClientConfigError(f"cannot create lock file {self.path}: {exc.strerror or exc}") from None
        try:
            self._lock.acquire(timeout=LOCK_TIMEOUT_S)
        except OSError:  # TimeoutError, or a file system without locks
            self._lock.close()
            raise ClientConfigError(f"{self.path}: another mcpwrap is editing this file (lock busy)") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.close()  # closing releases the lock


class _ClientLock:
    """The lock a client itself takes around writes of its file, held only for our re-read and rename.

    Claude Code guards ``~/.claude.json`` with proper-lockfile: an exclusive ``mkdir`` of ``<file>.lock``, which
    counts as abandoned when its mtime is older than :data:`CLIENT_LOCK_STALE_S`. Taking the same lock for the
    last step closes the window between our re-read and our rename for such a writer. It is held for
    milliseconds only, because a client that finds it busy at exit may give up saving its own state.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.held = False

    def __enter__(self) -> _ClientLock:
        if self.path is None:
            return self
        deadline = time.monotonic() + CLIENT_LOCK_WAIT_S
        delay = 0.005
        while True:
            try:
                os.mkdir(self.path)
                self.held = True
                return self
            except FileExistsError:
                try:
                    age = time.time() - os.stat(self.path).st_mtime
                except FileNotFoundError:
                    continue  # released just now
                if age > CLIENT_LOCK_STALE_S:
                    try:
                        os.rmdir(self.path)
                    except OSError:
                        pass
                    continue
            except OSError as exc:  # e.g. a read-only directory: the write below would fail the same way
                raise ClientConfigError(f"cannot take the lock {self.path}: {exc.strerror or exc}; not modified") from None
            if time.monotonic() > deadline:
                raise ClientConfigError(f"{self.path} is held by the client writing this file; try again (not modified)")
            time.sleep(delay)
            delay = min(delay * 2, 0.08)

    def __exit__(self, *exc: object) -> None:
        if self.held and self.path is not None:
            try:
                os.rmdir(self.path)
            except OSError:
                pass
            self.held = False


def _backup(target: Path, text: str) -> Path:
    directory = backups_dir()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f".{time.time_ns() % 1_000_000_000:09d}Z"
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", str(target).strip("/"))[-120:]
    path = directory / f"{stamp}-{label}"
    try:
        ensure_dir(directory, what="backups")  # backups hold whole client configurations (tokens in env blocks)
        if not create_new(path, text):
            raise FileExistsError(f"{path} exists")
    except OSError as exc:
        raise ClientConfigError(f"cannot write backup {path}: {exc.strerror or exc}; {target} not modified") from None
    return path


def _write_temp(target: Path, text: str, st: os.stat_result) -> str:
    """The new text in a temporary file beside ``target``, with the original's mode and owner."""
    owner = (st.st_uid, st.st_gid)
    try:
        return write_temp(target, text, mode=st.st_mode & 0o7777, owner=owner, suffix=TEMP_SUFFIX)
    except PermissionError:
        if hasattr(os, "geteuid") and owner != (os.geteuid(), os.getegid()):
            raise ClientConfigError(
                f"{target}: owned by uid {st.st_uid}, cannot keep its owner when replacing it; not modified"
            ) from None
        raise


def _remove_stale_temps(target: Path) -> None:
    """Temporary files left by an mcpwrap killed mid-write (only one mcpwrap holds the lock: none are live)."""
    try:
        for stale in target.parent.glob(f".{glob_escape(target.name)}.*{TEMP_SUFFIX}"):
            _unlink_quietly(str(stale))
    except OSError:
        pass


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def update_file(
    path: str | os.PathLike,
    transform: Callable[[str], str | None],
    *,
    backup: bool = True,
    client_lock: str | os.PathLike | None = None,
    _before_commit: Callable[[int], None] | None = None,
) -> WriteResult:
    """Apply ``transform`` to the file's text and write the result safely (see the module docstring).

    ``transform`` returns the new text, or None (or the same text) for "nothing to change"; it must be pure,
    since it runs again on the fresh text when a concurrent change is detected. ``_before_commit(attempt)``
    is a test hook run after the temporary file is written and before the re-read check. ``client_lock`` is the
    path of the client's own lock (see :class:`_ClientLock`), taken around the final re-read and rename.
    """
    given = Path(path)
    target = Path(os.path.realpath(given))
    with _Lock(target):
        _remove_stale_temps(target)
        try:
            text = read_text(target)
        except FileNotFoundError:
            raise ClientConfigError(f"{given}: no such file") from None
        for attempt in range(MAX_MERGE_ATTEMPTS):
            new = transform(text)
            if new is None or new == text:
                return WriteResult(given, False, merges=attempt)
            try:
                st = os.stat(target)
            except OSError as exc:
                raise ClientConfigError(f"{given}: cannot stat: {exc.strerror or exc}") from None
            if not st.st_mode & stat.S_IWUSR or not os.access(target, os.W_OK):
                # replacing it would work (the directory is writable) but would override the owner's intent
                raise ClientConfigError(f"{given}: the file is read-only; not modified")
            if not os.access(target.parent, os.W_OK):
                raise ClientConfigError(f"{given}: cannot write to directory {target.parent}; not modified")
            try:
                tmp = _write_temp(target, new, st)
            except OSError as exc:
                raise ClientConfigError(f"{given}: cannot write: {exc.strerror or exc}; not modified") from None
            saved: Path | None = None
            try:
                saved = _backup(target, text) if backup else None
                if _before_commit is not None:
                    _before_commit(attempt)
                with _ClientLock(Path(client_lock) if client_lock else None):
                    try:
                        current = read_text(target)
                    except FileNotFoundError:
                        raise ClientConfigError(f"{given}: removed while being edited; not recreated") from None
                    if current == text:  # nobody changed it since we read it: replace it now
                        try:
                            os.replace(tmp, target)
                        except OSError as exc:
                            raise ClientConfigError(f"{given}: cannot replace: {exc.strerror or exc}; not modified") from None
                if current != text:  # a concurrent writer: keep their change, apply ours again on top
                    text = current
                    _unlink_quietly(tmp)
                    if saved is not None:
                        _unlink_quietly(str(saved))
                    continue
            except BaseException:
                _unlink_quietly(tmp)
                if saved is not None:  # nothing was replaced: a backup of an unchanged file is noise
                    _unlink_quietly(str(saved))
                raise
            fsync_dir(target.parent)
            return WriteResult(given, True, backup=saved, merges=attempt)
        raise ClientConfigError(f"{given}: changed by another program {MAX_MERGE_ATTEMPTS} times while being edited; not modified")
