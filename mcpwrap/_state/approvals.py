"""Pending approvals of every wrapped server, the per-installation HMAC key, and remembered approvals.

The queue is a directory, ``$MCPWRAP_HOME/approvals/`` by default, shared by every mcpwrap process of one
user (one process per wrapped server) and by the ``mcpwrap approvals`` / ``approve`` / ``deny`` commands::

    approvals/                      0700, owned by the user (anything looser is refused)
      <id>.json                     one held call: server, tool, readable arguments, digest of the frozen call
      <id>.decision                 a person's decision, written once by the CLI, read by the waiting process

Design and invariants
- Files are written to a temporary name in the same directory and then *linked* to their final name:
  readers never see a half-written file, and ``link`` fails when the name exists, so the first decision
  wins and a second ``approve``/``deny`` is told the call was already decided.
- A decision names the digest of the entry it decides. The waiting process accepts it only when that digest
  is the digest of the call it holds: a decision can never apply to a different call than the one shown.
- Entries whose process is gone are ignored and cleaned by the listing.
- The ids are short random tokens, not secrets: acting on one needs the user's files. They are never written
  into anything the model reads (block reasons name the command, never the id).
- The HMAC key (``approval.key``, 32 random bytes, 0600) protects the state mcpwrap hands to stateless
  clients (see :mod:`mcpwrap.interceptors.approval`); created once per installation, race-free.
- "Remember always" adds an ``allow`` rule (:func:`override_rule`) to the overrides store,
  :mod:`mcpwrap._state.overrides` (:func:`write_override_rule`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from .._errors import ConfigError, McpwrapError, UnsafeFileError
from .._fs import create_new, ensure_dir, read_file
from .._message import APPROVAL_REMEMBER
from .._paths import approval_key_path, approvals_dir
from .overrides import add_rule, override_rule  # override_rule: what the approval interceptor remembers

__all__ = [
    "ApprovalError",
    "ApprovalQueue",
    "QUEUE_DIR_NAME",
    "KEY_FILE_NAME",
    "DECISIONS",
    "REMEMBER_CHOICES",
    "default_queue_dir",
    "load_or_create_key",
    "override_rule",
    "write_override_rule",
    "digest_of",
]

QUEUE_DIR_NAME = "approvals"
KEY_FILE_NAME = "approval.key"
KEY_BYTES = 32
DECISIONS = ("approve", "deny")
REMEMBER_CHOICES = APPROVAL_REMEMBER
_ID_BYTES = 4  # 8 hex characters: unique among a handful of pending calls, short enough to type


class ApprovalError(McpwrapError):
    """The approval queue or key cannot be used, or a decision cannot be recorded."""


def default_queue_dir() -> Path:
    return approvals_dir()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _check_private(path: Path, what: str, *, directory: bool) -> None:
    """Refuse a file or directory another user could read or change (fail closed)."""
    st = path.lstat()
    if directory and not stat.S_ISDIR(st.st_mode) or not directory and not stat.S_ISREG(st.st_mode):
        raise ApprovalError(f"{what} {path} is not a {'directory' if directory else 'regular file'}")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise ApprovalError(f"{what} {path} belongs to another user; refusing to use it")
    if st.st_mode & 0o077:
        raise ApprovalError(
            f"{what} {path} is accessible to other users (mode {stat.S_IMODE(st.st_mode):o}); run: chmod {'700' if directory else '600'} {path}"
        )


def _write_new(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` atomically; False if it already exists (the first writer wins)."""
    return create_new(path, data)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's (cannot happen in a private queue, kept as a guard)
        return True
    return True


class ApprovalQueue:
    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.dir = Path(directory) if directory is not None else default_queue_dir()

    # --- shared -------------------------------------------------------------------------------------------

    def ensure(self) -> Path:
        """Create the queue directory (0700) if needed and check that it is private."""
        try:
            if not os.path.lexists(self.dir):
                ensure_dir(self.dir, what="approval queue")  # 0700, and every missing parent too
            _check_private(self.dir, "approval queue", directory=True)
        except OSError as exc:
            raise ApprovalError(f"cannot use the approval queue {self.dir}: {exc.strerror or exc}") from None
        return self.dir

    def _entry_path(self, approval_id: str) -> Path:
        if not approval_id or not all(c in "0123456789abcdef" for c in approval_id):
            raise ApprovalError(f"no pending approval {approval_id!r} (ids are shown by `mcpwrap approvals`)")
        return self.dir / f"{approval_id}.json"

    def _decision_path(self, approval_id: str) -> Path:
        return self.dir / f"{approval_id}.decision"

    @staticmethod
    def _read_json(path: Path) -> dict | None:
        try:
            value = json.loads(read_file(path, what="approval queue file"))
        except (FileNotFoundError, UnsafeFileError, ValueError, UnicodeDecodeError):
            return None  # a link or a file others could write is no decision
        return value if isinstance(value, dict) else None

    # --- the waiting process ------------------------------------------------------------------------------

    def submit(self, entry: dict) -> str:
        """Add a pending approval; returns its id (also stored in the entry)."""
        self.ensure()
        for _ in range(16):
            approval_id = secrets.token_hex(_ID_BYTES)
            record = {**entry, "id": approval_id, "pid": os.getpid()}
            data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
            if _write_new(self._entry_path(approval_id), data):
                return approval_id
        raise ApprovalError("cannot allocate an approval id")  # pragma: no cover - 16 collisions in a row

    def poll_decision(self, approval_id: str) -> dict | None:
        """A person's decision on ``approval_id``, once written completely; None while there is none."""
        return self._read_json(self._decision_path(approval_id))

    def withdraw(self, approval_id: str) -> None:
        """Remove an entry and its decision (the call was decided, timed out or ended)."""
        for path in (self._decision_path(approval_id), self._entry_path(approval_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:  # pragma: no cover - a leftover entry is cleaned by the listing (dead pid)
                pass

    # --- the person's side (CLI) --------------------------------------------------------------------------

    def pending(self) -> list[dict]:
        """Entries whose process still waits and that nobody decided yet, oldest first."""
        if not self.dir.exists():
            return []
        self.ensure()
        entries = []
        for path in self.dir.glob("*.json"):
            entry = self._read_json(path)
            if entry is None or not isinstance(entry.get("id"), str):
                continue
            if not _pid_alive(entry.get("pid")) or (isinstance(entry.get("expires_ts"), (int, float)) and entry["expires_ts"] < time.time()):
                if not _pid_alive(entry.get("pid")):
                    self.withdraw(entry["id"])
                continue
            if self._decision_path(entry["id"]).exists():
                continue
            entries.append(entry)
        entries.sort(key=lambda e: e.get("created_ts", 0))
        return entries

    def get(self, approval_id: str) -> dict:
        if not self.dir.exists():
            raise ApprovalError(f"no pending approval {approval_id!r}: the queue {self.dir} is empty")
        self.ensure()
        entry = self._read_json(self._entry_path(approval_id))
        if entry is None or not _pid_alive(entry.get("pid")):
            raise ApprovalError(f"no pending approval {approval_id!r} (already decided, timed out, or its server ended)")
        expires = entry.get("expires_ts")
        if isinstance(expires, (int, float)) and expires < time.time():
            raise ApprovalError(f"approval {approval_id} timed out; the call was answered without it")
        return entry

    def decide(self, approval_id: str, decision: str, *, remember: str = "once", by: str = "terminal") -> dict:
        """Record a person's decision; raises ApprovalError if the id is unknown or already decided."""
        if decision not in DECISIONS:
            raise ApprovalError(f"decision must be one of {', '.join(DECISIONS)}")
        entry = self.get(approval_id)
        choices = entry.get("remember") or ["once"]
        if decision == "approve" and remember not in choices:
            raise ApprovalError(f"--remember {remember} is not offered for this call (choices: {', '.join(choices)})")
        record = {
            "id": approval_id,
            "decision": decision,
            "remember": remember if decision == "approve" else "once",
            "digest": entry.get("digest"),
            "by": by,
            "decided_ts": time.time(),
        }
        if not _write_new(self._decision_path(approval_id), json.dumps(record).encode("utf-8")):
            raise ApprovalError(f"approval {approval_id} was already decided")
        return entry


# --- the per-installation key -------------------------------------------------------------------------------


def load_or_create_key(path: str | os.PathLike | None = None) -> bytes:
    """The HMAC key for stateless approval state: created once (0600, race-free), then read."""
    p = Path(path) if path is not None else approval_key_path()
    try:
        ensure_dir(p.parent, what="approval key")
        if not p.exists():
            try:
                _write_new(p, secrets.token_bytes(KEY_BYTES))
            except FileExistsError:  # pragma: no cover - lost a race on the temporary name
                pass
        _check_private(p, "approval key", directory=False)
        key = read_file(p, secret=True, what="approval key")
    except OSError as exc:
        raise ApprovalError(f"cannot use the approval key {p}: {exc.strerror or exc}") from None
    if len(key) < KEY_BYTES:
        raise ApprovalError(f"the approval key {p} is too short ({len(key)} bytes); delete it to create a new one")
    return key


# --- "remember always": one rule in the overrides store (mcpwrap._state.overrides) ---------------------------


def write_override_rule(rule: dict, path: str | os.PathLike | None = None) -> Path:
    """Remember an approval "always": add ``rule`` to the overrides store; a failure is an ApprovalError."""
    try:
        return add_rule(rule, path)
    except ConfigError as exc:
        raise ApprovalError(str(exc)) from None
