"""Pending approvals of every wrapped server, the one-time codes that authenticate a person's decision, the
per-installation HMAC key, and remembered approvals.

The queue is a directory, ``$MCPWRAP_HOME/approvals/`` by default, shared by every mcpwrap process of one
user (one process per wrapped server) and by the ``mcpwrap approvals`` / ``approve`` / ``deny`` commands::

    approvals/                      0700, owned by the user (anything looser is refused)
      <id>.json                     one held call: server, the whole call, its digest, the rule (no code)
      <id>.<token>.decision         one attempt to decide it, written by `mcpwrap approve` / `deny`
      <id>.<token>.outcome          the waiting process's answer to that attempt (accepted, wrong code, ...)

Who may decide
- Anything running as the user can read and write this directory, so a file here proves nothing about who
  wrote it. An approval counts only when it carries a MAC keyed by the call's **one-time code**
  (:func:`decision_mac`): HMAC-SHA256 over (approval id, call digest, decision, remember). The waiting process
  mints the code (:func:`new_code`, 8 characters of Crockford base32 from the CSPRNG: 40 bits), keeps it in
  its memory only, and shows it only where a person looks and a model does not read — the client's approval
  form, a desktop notification. The person types it into ``mcpwrap approve`` at a terminal, which reads it from
  ``/dev/tty`` and writes the MAC, never the code. Neither the code nor anything from which it could be
  derived is written to this directory, the audit log, stderr or anything the model reads.
- The code keys the MAC through scrypt (:data:`CODE_KDF_N`): a decision file someone else reads — or a decision
  diverted to a queue of their making — is no faster to turn into the code than guessing it online.
- The waiting process verifies each attempt in constant time, consumes it (the file is removed when read),
  answers it with an outcome file, and after :data:`MAX_CODE_ATTEMPTS` wrong ones denies the call. A denial
  needs no code: refusing is always safe. Decision files of any other name or shape are wrong attempts.
- The digest (:func:`call_digest`) covers the server's name, the method and the whole params except
  ``_meta``. ``mcpwrap approve`` computes it from the call it shows, so an entry edited to show another call
  produces a MAC the waiting process rejects: a decision applies only to the call the person saw.

Files
- Files are written to a temporary name in the same directory and then *linked* to their final name:
  readers never see a half-written file. Readers open without following links and read only regular files
  of bounded size (:func:`_read_json`): a link, FIFO or huge file planted here cannot block or bloat anyone.
- Entries whose process is gone are ignored and cleaned by the listing; outcomes nobody collected are removed
  after :data:`OUTCOME_TTL` seconds.
- The ids are short random tokens, not secrets: they appear in ``mcpwrap approvals`` (which a model's shell
  can run) and deciding needs the code as well. They are never written into MCP traffic to the client's
  model (block reasons name the command, never the id).
- The HMAC key (``approval.key``, 32 random bytes, 0600) protects the state mcpwrap hands to stateless
  clients (see :mod:`mcpwrap.interceptors.approval`); created once per installation, race-free.
- "Remember always" adds an ``allow`` rule (:func:`override_rule`) to the overrides store,
  :mod:`mcpwrap._state.overrides` (:func:`write_override_rule`).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from .._errors import ConfigError, McpwrapError
from .._fs import create_new, ensure_dir, read_file
from .._message import APPROVAL_REMEMBER
from .._paths import approval_key_path, approvals_dir
from .._policy.exact import canonical_json
from .overrides import add_rule, override_rule  # override_rule: what the approval interceptor remembers

__all__ = [
    "ApprovalError",
    "ApprovalQueue",
    "QUEUE_DIR_NAME",
    "KEY_FILE_NAME",
    "DECISIONS",
    "REMEMBER_CHOICES",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_CODE_ATTEMPTS",
    "default_queue_dir",
    "load_or_create_key",
    "override_rule",
    "write_override_rule",
    "digest_of",
    "call_digest",
    "call_of",
    "new_code",
    "format_code",
    "normalize_code",
    "decision_mac",
    "verify_mac",
]

QUEUE_DIR_NAME = "approvals"
KEY_FILE_NAME = "approval.key"
KEY_BYTES = 32
DECISIONS = ("approve", "deny")
REMEMBER_CHOICES = APPROVAL_REMEMBER
_ID_BYTES = 4  # 8 hex characters: unique among a handful of pending calls, short enough to type
_TOKEN_BYTES = 8  # names one decision attempt
# Crockford's base32: digits and capitals without I, L, O and U, so a code read off a notification is typed
# right (I/L are read as 1 and O as 0 when typed). 8 characters = 40 bits: three guesses per call succeed with
# probability 3/2^40, and a guessed code dies with its call.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
MAX_CODE_ATTEMPTS = 3  # wrong codes for one call before it is denied
# The code is stretched with scrypt before it keys a MAC: 16 MiB and tens of milliseconds per guess, paid once by
# `mcpwrap approve` and at most MAX_CODE_ATTEMPTS + 1 times per call by the wrapper, and 2^40 times by anyone
# trying every code against a decision file offline.
CODE_KDF_N = 2**14
CODE_KDF_R = 8
CODE_KDF_MAXMEM = 64 << 20
OUTCOME_TTL = 120.0  # seconds an answer to a decision attempt waits to be collected before the listing removes it
MAX_STATE_FILE_BYTES = 64 << 20  # an entry holds the whole call; anything larger here was not written by mcpwrap
_MAC_CONTEXT = "mcpwrap-approval-decision/1"
_NAME = re.compile(r"\A([0-9a-f]{8})(?:\.([0-9a-f]{16}))?\.(json|decision|outcome)\Z")


class ApprovalError(McpwrapError):
    """The approval queue or key cannot be used, or a decision cannot be recorded."""


def default_queue_dir() -> Path:
    return approvals_dir()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- what is approved, and the proof that a person approved it ----------------------------------------------------


def call_of(method: Any, params: Any) -> dict:
    """The call a person approves: the method and the whole params except ``_meta`` (transport metadata the
    client adds: progress token, protocol version; it is forwarded as it came but not shown)."""
    shown = {k: v for k, v in params.items() if k != "_meta"} if isinstance(params, dict) else params
    return {"method": method, "params": shown}


def call_digest(server: str, call: dict) -> str:
    """The digest of a call as shown to a person (:func:`call_of`), with the server it goes to."""
    return "sha256:" + hashlib.sha256(canonical_json({"server": server, **call}).encode("ascii")).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """How a code is shown: two groups of four (``7KQ2-M9XD``)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


CODE_LOOKALIKES = ("ILO", "110")  # letters a person may type for the digits they resemble: read as those digits


def normalize_code(text: str) -> str | None:
    """A code as typed (any case, spaces or dashes, I/L for 1 and O for 0), or None if it cannot be one."""
    typed = "".join(text.split()).replace("-", "").upper().translate(str.maketrans(*CODE_LOOKALIKES))
    if len(typed) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in typed):
        return None
    return typed


def _code_key(code: str, approval_id: str) -> bytes:
    # scrypt, salted with the approval: everything a decision MACs is public, so a decision file read (or diverted)
    # by another process is an offline test of guesses at the code; each guess must cost what this costs.
    return hashlib.scrypt(
        code.encode("ascii"), salt=f"{_MAC_CONTEXT}:{approval_id}".encode("ascii"), n=CODE_KDF_N, r=CODE_KDF_R, p=1, dklen=32, maxmem=CODE_KDF_MAXMEM
    )


def decision_mac(code: str, approval_id: str, digest: str, decision: str, remember: str) -> str:
    """HMAC-SHA256, keyed by (a slow hash of) the one-time code, over what the person decided about which call."""
    material = json.dumps([_MAC_CONTEXT, approval_id, digest, decision, remember], separators=(",", ":"))
    return hmac.new(_code_key(code, approval_id), material.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_mac(code: str, approval_id: str, digest: str, record: dict) -> bool:
    """Whether ``record`` is a decision about this call made by someone who knew the code (constant time)."""
    mac = record.get("mac")
    decision, remember = record.get("decision"), record.get("remember")
    if not isinstance(mac, str) or not isinstance(decision, str) or not isinstance(remember, str):
        return False
    expected = decision_mac(code, approval_id, digest, decision, remember)
    return hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode("ascii"))


# --- files -----------------------------------------------------------------------------------------------------------


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


def _read_json(path: Path) -> dict | None:
    """A JSON object from a regular file of bounded size, never through a link; None for anything else."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STATE_FILE_BYTES:
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            return None  # another user's file, or one others could write, is no decision or entry of ours
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_STATE_FILE_BYTES + 1)
        value = json.loads(data)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    finally:
        os.close(fd)
    return value if isinstance(value, dict) else None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:  # gone already, or not ours to remove: a leftover is cleaned by the listing
        pass


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's (cannot happen in a private queue, kept as a guard)
        return True
    except OSError as exc:  # pragma: no cover - e.g. EINVAL
        return exc.errno != errno.ESRCH
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

    @staticmethod
    def _check_id(approval_id: str) -> str:
        if not isinstance(approval_id, str) or not re.fullmatch(r"[0-9a-f]{8}", approval_id):
            raise ApprovalError(f"no pending approval {approval_id!r} (ids are shown by `mcpwrap approvals`)")
        return approval_id

    def _entry_path(self, approval_id: str) -> Path:
        return self.dir / f"{self._check_id(approval_id)}.json"

    def _attempt_path(self, approval_id: str, token: str, kind: str) -> Path:
        return self.dir / f"{self._check_id(approval_id)}.{token}.{kind}"

    # --- the waiting process ------------------------------------------------------------------------------

    def submit(self, entry: dict) -> str:
        """Add a pending approval; returns its id (also stored in the entry)."""
        self.ensure()
        for _ in range(16):
            approval_id = secrets.token_hex(_ID_BYTES)
            record = {**entry, "id": approval_id, "pid": os.getpid()}
            data = json.dumps(record, indent=1).encode("ascii")  # ASCII escapes: any string the decoder accepted fits
            if _write_new(self._entry_path(approval_id), data):
                return approval_id
        raise ApprovalError("cannot allocate an approval id")  # pragma: no cover - 16 collisions in a row

    def take_decisions(self, approval_id: str) -> list[tuple[str | None, dict | None]]:
        """Every decision attempt written for ``approval_id`` so far, each removed as it is read (consumed):
        ``(token, record)``; the token is None for a file of a name ``mcpwrap`` never writes, the record None
        for one that is not a JSON object. Both are attempts all the same (and count as wrong ones)."""
        self._check_id(approval_id)
        found: list[tuple[str | None, dict | None]] = []
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.startswith(approval_id) and n.endswith(".decision"))
        except OSError:
            return found
        for name in names:
            path = self.dir / name
            record = _read_json(path)
            _unlink(path)
            m = _NAME.match(name)
            found.append((m.group(2) if m and m.group(1) == approval_id else None, record))
        return found

    def answer(self, approval_id: str, token: str | None, outcome: dict) -> None:
        """Tell the command that made attempt ``token`` what became of it."""
        if token is None or not re.fullmatch(r"[0-9a-f]{16}", token):
            return
        try:
            _write_new(self._attempt_path(approval_id, token, "outcome"), json.dumps(outcome).encode("utf-8"))
        except OSError:  # pragma: no cover - the decision is taken either way; the command says it got no answer
            pass

    def withdraw(self, approval_id: str) -> None:
        """Remove an entry and its unread attempts (the call was decided, timed out or ended). Outcomes stay
        for the command waiting for them."""
        self._check_id(approval_id)
        _unlink(self._entry_path(approval_id))
        try:
            names = [n for n in os.listdir(self.dir) if n.startswith(approval_id) and n.endswith(".decision")]
        except OSError:
            return
        for name in names:
            _unlink(self.dir / name)

    # --- the person's side (CLI) --------------------------------------------------------------------------

    def pending(self) -> list[dict]:
        """Entries whose process still waits, oldest first (and a clean-up of what nobody will read)."""
        if not self.dir.exists():
            return []
        self.ensure()
        entries = []
        now = time.time()
        for path in self.dir.iterdir():
            m = _NAME.match(path.name)
            if m is None:
                continue
            if m.group(3) == "outcome":
                try:
                    if path.lstat().st_mtime < now - OUTCOME_TTL:
                        _unlink(path)
                except OSError:
                    pass
                continue
            if m.group(3) != "json":
                continue
            entry = _read_json(path)
            if entry is None or entry.get("id") != m.group(1):
                continue
            if not _pid_alive(entry.get("pid")):
                self.withdraw(m.group(1))
                continue
            if isinstance(entry.get("expires_ts"), (int, float)) and entry["expires_ts"] < now:
                continue
            entries.append(entry)
        entries.sort(key=lambda e: e.get("created_ts", 0) if isinstance(e.get("created_ts"), (int, float)) else 0)
        return entries

    def get(self, approval_id: str) -> dict:
        if not self.dir.exists():
            raise ApprovalError(f"no pending approval {approval_id!r}: the queue {self.dir} is empty")
        self.ensure()
        entry = _read_json(self._entry_path(approval_id))
        if entry is None or entry.get("id") != approval_id or not _pid_alive(entry.get("pid")):
            raise ApprovalError(f"no pending approval {approval_id!r} (already decided, timed out, or its server ended)")
        expires = entry.get("expires_ts")
        if isinstance(expires, (int, float)) and expires < time.time():
            raise ApprovalError(f"approval {approval_id} timed out; the call was answered without it")
        return entry

    def send_decision(self, approval_id: str, decision: str, *, remember: str = "once", digest: str = "", mac: str | None = None) -> str:
        """Write one decision attempt (``mac`` from :func:`decision_mac`; none for a denial); returns its token."""
        if decision not in DECISIONS:
            raise ApprovalError(f"decision must be one of {', '.join(DECISIONS)}")
        self.get(approval_id)
        record = {"id": approval_id, "decision": decision, "remember": remember, "digest": digest, "mac": mac, "pid": os.getpid(), "ts": time.time()}
        for _ in range(16):
            token = secrets.token_hex(_TOKEN_BYTES)
            if _write_new(self._attempt_path(approval_id, token, "decision"), json.dumps(record).encode("utf-8")):
                return token
        raise ApprovalError("cannot record the decision")  # pragma: no cover

    def wait_answer(self, approval_id: str, token: str, timeout: float, poll: float = 0.05) -> dict | None:
        """The waiting process's answer to attempt ``token`` (collected: removed), or None after ``timeout``."""
        path = self._attempt_path(approval_id, token, "outcome")
        deadline = time.monotonic() + timeout
        while True:
            outcome = _read_json(path)
            if outcome is not None:
                _unlink(path)
                return outcome
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)


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
