"""The audit log: one JSON object per line, appended, never rewritten, hash-chained.

Many mcpwrap processes (one per wrapped server) may share one log. The file is opened with ``O_APPEND`` and
every flush is a single ``write()`` of whole records, so concurrent writers never interleave inside a line.
Records of one read from a pipe are written together (group commit: one lock, one tail check, one ``write``
per read, not per message), and always *before* the messages they describe are forwarded. "Written" means a
completed ``write(2)``: the record survives mcpwrap being killed, not a power cut; the file is synced before
a rotation and when the log is closed (the contract and why: "Durability" in docs/audit.md). Each flush seals its records into one global chain while
holding the log's lock (design and format: :mod:`mcpwrap._audit.seal`; keys: :mod:`mcpwrap._audit.keys`;
rotation: :mod:`mcpwrap._audit.files`; verification: :mod:`mcpwrap._audit.verify`).

Failure policy (``audit.on_failure``): ``block`` (default) — ``flush()`` raises :class:`AuditError` and the
relay answers the batch's requests with the block contract instead of forwarding anything unaudited; ``warn``
— traffic continues and stderr (:mod:`mcpwrap._log`) says loudly that it is unaudited. Either way, once the
log can be written again an ``audit-gap`` record states how many records were lost, and a ``session-start``
record that could not be written is written then, so the session stays verifiable.

Privacy: ``audit.record_arguments`` chooses how ``tools/call`` arguments are kept — ``none``, ``shape``
(types and sizes only), ``redacted`` (default: the secrets redactor's output) or ``full`` — cut to
``max_argument_chars``. Except in ``full`` mode, reasons and details that interceptors attach also pass
through the redactor, so a record never holds a secret the redactor would have removed from the traffic.
"""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
from typing import Any

import orjson

from .._config import Section, check_keys, expect
from .._errors import AuditError, ConfigError, UnsafeFileError
from .._fs import PRIVATE_FILE_MODE, FileLock, ensure_dir, open_file
from .._log import warning
from .._message import Session
from .._protocol import MAX_DEPTH
from .files import rotated_name
from .identity import wrapper_identity
from .keys import load_key
from .seal import CHAIN_FIELDS, Sealer, read_chain_tail

__all__ = ["AuditLog", "AuditSettings", "AUDIT_SECTION", "shape_of", "parse_size"]

RECORD_ARGUMENT_MODES = ("none", "shape", "redacted", "full")
FAILURE_POLICIES = ("block", "warn")
DEFAULT_MAX_ARGUMENT_CHARS = 2048  # a recorded argument form is cut here, so one call cannot bloat the log
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024  # a log file is rotated once it reaches this size (0: never)
MIN_ROTATE_BYTES = 64 * 1024  # smaller limits would rotate every few flushes
WARN_INTERVAL = 10.0  # seconds between repeated stderr warnings while the log cannot be written
_RESERVED = frozenset(CHAIN_FIELDS)  # appended when a record is sealed: a caller's field of that name is renamed
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def parse_size(value: Any, path: tuple = ()) -> int:
    """Bytes from an integer or a string such as ``64MB`` / ``512KiB`` / ``1G`` (powers of 1024)."""
    if isinstance(value, bool):
        raise ConfigError("expected a size (bytes, or e.g. 64MB)", path=path)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        m = _SIZE.match(value)
        if not m:
            raise ConfigError(f"expected a size such as 64MB, 512KB or 1GB, got {value!r}", path=path)
        unit = (m.group(2) or "b")[0].lower()
        n = int(m.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    else:
        raise ConfigError("expected a size (bytes, or e.g. 64MB)", path=path)
    if n < 0 or (0 < n < MIN_ROTATE_BYTES):
        raise ConfigError(f"must be 0 (never rotate) or at least {MIN_ROTATE_BYTES} bytes", path=path)
    return n


class AuditSettings:
    __slots__ = ("path", "record_arguments", "max_argument_chars", "on_failure", "rotate_size", "key_file")

    def __init__(
        self,
        path: str | None = None,
        record_arguments: str = "redacted",
        max_argument_chars: int = DEFAULT_MAX_ARGUMENT_CHARS,
        on_failure: str = "block",
        rotate_size: int = DEFAULT_ROTATE_BYTES,
        key_file: str | None = None,
    ):
        self.path = path
        self.record_arguments = record_arguments
        self.max_argument_chars = max_argument_chars
        self.on_failure = on_failure
        self.rotate_size = rotate_size
        self.key_file = key_file


def _choice(raw: dict, key: str, choices: tuple, path: tuple) -> str:
    value = expect(raw[key], str, path + (key,))
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)}", path=path + (key,))
    return value


def _parse_audit(raw: Any, path: tuple) -> AuditSettings:
    expect(raw, dict, path)
    check_keys(raw, set(AuditSettings.__slots__), path)
    settings = AuditSettings()
    if "path" in raw:
        settings.path = expect(raw["path"], str, path + ("path",))
    if "record_arguments" in raw:
        settings.record_arguments = _choice(raw, "record_arguments", RECORD_ARGUMENT_MODES, path)
    if "max_argument_chars" in raw:
        settings.max_argument_chars = expect(raw["max_argument_chars"], int, path + ("max_argument_chars",))
        if settings.max_argument_chars < 16:
            raise ConfigError("must be at least 16", path=path + ("max_argument_chars",))
    if "on_failure" in raw:
        settings.on_failure = _choice(raw, "on_failure", FAILURE_POLICIES, path)
    if "rotate_size" in raw:
        settings.rotate_size = parse_size(raw["rotate_size"], path + ("rotate_size",))
    if "key_file" in raw:
        settings.key_file = expect(raw["key_file"], str, path + ("key_file",))
    return settings


SHAPE_MAX_KEYS = 50  # keys of one object a shape keeps (the policy's replay reads a missing key past these as unknown)


def shape_of(value: Any, depth: int = 1) -> Any:
    """Types and sizes of a JSON value, without its content, as deep as a message can nest (MAX_DEPTH)."""
    if depth > MAX_DEPTH:
        return "…"  # only a value built in-process nests deeper; marked, never read as absent
    if isinstance(value, dict):
        return {k: shape_of(v, depth + 1) for k, v in list(value.items())[:SHAPE_MAX_KEYS]}
    if isinstance(value, list):
        return [f"list[{len(value)}]"] if not value else [f"list[{len(value)}]", shape_of(value[0], depth + 1)]
    if isinstance(value, str):
        return f"str[{len(value)}]"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return type(value).__name__


_second = [-1, ""]  # the last whole second formatted, and its text: a record's time costs one float format


def utc_now() -> str:
    """``2026-01-31T12:00:00.123456Z``: ISO 8601, UTC, microseconds (sortable as text)."""
    now = time.time()
    sec = int(now)
    if sec != _second[0]:
        _second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        _second[0] = sec
    return f"{_second[1]}.{int((now - sec) * 1e6):06d}Z"


# Records are serialised with orjson (~7x the stdlib encoder on a typical record; the same compact output).
# JSON allows U+2028, U+2029 and U+0085 raw inside strings, but str.splitlines and editors split lines there:
# they are escaped, so every reader sees one record per line.
_LINE_BREAKERS = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _dumps(rec: dict) -> bytes:
    try:
        data = orjson.dumps(rec, default=str, option=_ORJSON_OPTIONS)
    except TypeError:
        # orjson writes integers of at most 64 bits, and the decoder accepts any integer a double can hold; such
        # a record (rare) is written by the stdlib encoder: exact, ASCII-only (so no line breaker is left raw).
        return json.dumps(rec, default=str, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii")
    for raw, escaped in _LINE_BREAKERS:
        if raw in data:
            data = data.replace(raw, escaped)
    return data


_KEY_FROM_SETTINGS: Any = object()


class AuditLog:
    """An append-only, hash-chained JSONL file shared safely between processes.

    ``record()`` serialises a record and queues it; ``flush()`` seals the queued records (chain fields + MAC,
    see :mod:`mcpwrap._audit.seal`) and appends them with one ``write()`` under the log's lock. ``flush()``
    raises :class:`AuditError` when the records could not be written and ``on_failure`` is ``block`` — the
    caller must then not forward what they describe; with ``warn`` it reports on stderr and returns.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        session: Session | None = None,
        settings: AuditSettings | None = None,
        *,
        key: bytes | None = _KEY_FROM_SETTINGS,
    ) -> None:
        self.path = os.fspath(path)
        self.session = session
        self.settings = settings or AuditSettings()
        self.on_failure = self.settings.on_failure
        self.rotate_bytes = self.settings.rotate_size
        if key is _KEY_FROM_SETTINGS:
            key = load_key(self.settings.key_file)  # a bad key file is a configuration error: raised here
        self._sealer = Sealer(key)
        self.key_id = self._sealer.kid
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._seq = 0  # next sequence number of this session
        self._start: bytes | None = None  # the session-start record until it has been written
        self._fd: int | None = None
        self._file_lock = FileLock(self.path + ".lock")  # beside the log, never rotated: guards appends
        self._tail: tuple | None = None  # ((inode, device, size) after our last write, next n, last h)
        self._closed = False
        self.failed: str | None = None  # the last write error, while the log cannot be written
        self._lost = 0  # records not written since the log failed
        self._failed_since: str | None = None
        self._last_warning = 0.0
        self.records_written = 0
        try:
            self._open()
        except OSError as exc:
            # Not fatal here: the failure policy decides at the first flush (block answers every request, so
            # the client sees why instead of a server that would not start).
            self.failed = f"cannot open audit log {self.path}: {exc if isinstance(exc, UnsafeFileError) else exc.strerror or exc}"

    def configure(self, settings: AuditSettings) -> None:
        """Apply the settings that can change while running (``path`` and the key are fixed at start)."""
        with self._lock:
            self.settings = settings
            self.on_failure = settings.on_failure
            self.rotate_bytes = settings.rotate_size

    # --- files ---------------------------------------------------------------------------------------------------

    def _open(self) -> None:
        # Never through a link, never another user's file or one others can write (mcpwrap._fs.open_file): a
        # planted link would send records into any file the user can write, a planted file could be forged.
        ensure_dir(os.path.dirname(os.path.abspath(self.path)), what="audit log")
        self._file_lock.open()
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        self._fd = open_file(self.path, os.O_RDWR | os.O_APPEND, create=True, mode=PRIVATE_FILE_MODE, what="audit log")

    def _current(self) -> os.stat_result:
        """Under the lock: make sure ``_fd`` is the file at ``path`` (another writer may have rotated it)."""
        if self._fd is None or self._file_lock.fd is None:
            self._open()
        assert self._fd is not None
        st = os.fstat(self._fd)
        try:
            at_path = os.stat(self.path)
            same = (at_path.st_ino, at_path.st_dev) == (st.st_ino, st.st_dev)
        except FileNotFoundError:
            same = False
        if not same:
            self._open()
            st = os.fstat(self._fd)
        return st

    def _rotate(self) -> str:
        """Under the lock: move the full file aside; the caller continues the chain in a new file."""
        target = rotated_name(self.path)
        if self._fd is not None:
            # A rotated file is final: it reaches the disk before its name changes (cheap, once per file).
            os.fdatasync(self._fd)
        os.rename(self.path, target)
        self._open()
        return os.path.basename(target)

    # --- records -------------------------------------------------------------------------------------------------

    def _body(self, event: str, fields: dict) -> tuple[dict, bytes]:
        rec: dict = {"ts": utc_now(), "event": event}
        session = self.session
        if session is not None:
            rec["session"] = session.session_id
            rec["server"] = session.server
            rec["subject"] = session.subject
            if session.roles:
                rec["roles"] = list(session.roles)
        if not _RESERVED.isdisjoint(fields):
            fields = {(f"x_{k}" if k in _RESERVED else k): v for k, v in fields.items()}
        for k, v in fields.items():
            if v is not None:
                rec[k] = v
        return rec, _dumps(rec)

    def record(self, event: str, **fields: Any) -> dict:
        return self.record_fields(event, fields)

    def record_fields(self, event: str, fields: dict) -> dict:
        """``record`` with the fields as one dict (the per-message path: no keyword unpacking)."""
        if event == "session-start":
            fields.setdefault("wrapper", wrapper_identity())
        rec, body = self._body(event, fields)
        with self._lock:
            if event == "session-start":
                self._start = body
            else:
                self._pending.append(body)
        return rec

    def flush(self) -> None:
        with self._lock:
            if self._closed:
                return
            bodies = self._pending
            if self._start is None and not self._lost and self.failed is None:
                # The common case, one per read batch: nothing to replay, nothing to report.
                if bodies:
                    self._pending = []
                    try:
                        self._write(bodies)
                    except OSError as exc:
                        self._write_failed(exc, len(bodies))
                        return
                    self.records_written += len(bodies)
                return
            if not bodies and self._start is None and not self._lost:
                return
            self._pending = []
            queued = len(bodies)
            if self._lost:
                gap = {
                    "lost": self._lost,
                    "since": self._failed_since,
                    "error": self.failed,
                    "on_failure": self.on_failure,
                }
                bodies.insert(0, self._body("audit-gap", gap)[1])
            if self._start is not None:
                bodies.insert(0, self._start)
            try:
                self._write(bodies)
            except OSError as exc:
                self._write_failed(exc, queued)
                return
            if self.failed is not None or self._lost:
                lost = f"; {self._lost} record(s) were lost (see the audit-gap record)" if self._lost else ""
                self._warn(f"audit log {self.path} is writable again{lost}", force=True)
            self._start = None
            self.failed = None
            self._lost = 0
            self._failed_since = None
            self.records_written += len(bodies)

    def _write(self, bodies: list[bytes]) -> None:
        if self._file_lock.fd is None or self._fd is None:
            self._open()
        with self._file_lock:
            # Under the lock for exactly one tail check, the seal and one write (the contract: a record is in
            # the file before what it describes is forwarded; see "Durability" in docs/audit.md).
            st = self._current()
            fd = self._fd
            assert fd is not None  # _current() opened it
            size = st.st_size
            tail = self._tail
            if tail is not None and tail[0] == (st.st_ino, st.st_dev, size):
                n, prev, needs_newline = tail[1], tail[2], False  # nobody wrote since our last write
            else:
                n, prev, needs_newline = read_chain_tail(fd, size)
            rotated: list[bytes] = []
            if self.rotate_bytes and size >= self.rotate_bytes:
                previous = self._rotate()
                # A file-level record: it continues the chain but belongs to no session (were it sealed into
                # this session's sequence, a session whose first flush rotates would not start with its
                # session-start record).
                note = _dumps({"ts": utc_now(), "event": "log-rotated", "previous": previous})
                rotated, _, n, prev = self._sealer.seal([note], 0, n, prev)
                needs_newline = False
                fd = self._fd
                assert fd is not None  # _rotate() opened the new file
                st, size = os.fstat(fd), 0
            parts, seq, next_n, last_h = self._sealer.seal(bodies, self._seq, n, prev)
            data = b"".join(rotated + parts)
            if needs_newline:
                data = b"\n" + data  # the last line was cut short: ours start on a line of their own
            written = os.write(fd, data)
            while written < len(data):  # a short write on a regular file: disk full or quota
                more = os.write(fd, data[written:])
                if more <= 0:
                    raise OSError(errno.ENOSPC, "short write")
                written += more
            self._seq = seq
            self._tail = ((st.st_ino, st.st_dev, size + len(data)), next_n, last_h)

    def _write_failed(self, exc: OSError, queued: int) -> None:
        reason = exc.strerror or str(exc)
        first = self.failed is None
        self.failed = str(exc) if isinstance(exc, UnsafeFileError) else f"cannot write audit log {self.path}: {reason}"
        if self._failed_since is None:
            self._failed_since = utc_now()
        # The session-start record is kept and written first once the log works again; the rest are counted
        # and an audit-gap record says so.
        self._lost += queued
        if self.on_failure == "warn":
            self._warn(f"WARNING: {self.failed}; traffic continues UNAUDITED (audit.on_failure: warn); {self._lost} record(s) lost so far", force=first)
            return
        self._warn(f"{self.failed}; refusing traffic until it can be written (audit.on_failure: block)", force=first)
        raise AuditError(self.failed)

    def _warn(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_warning < WARN_INTERVAL:
            return
        self._last_warning = now
        warning(text)

    def close(self) -> None:
        try:
            self.flush()
        except AuditError:
            pass  # already reported on stderr; nothing is left to refuse
        finally:
            with self._lock:
                self._closed = True
                if self._fd is not None:
                    try:
                        # A session that ended cleanly is durable as a whole (records are otherwise written,
                        # not synced: see "Durability" in docs/audit.md).
                        if self.records_written:
                            os.fdatasync(self._fd)
                    except OSError:
                        pass
                    try:
                        os.close(self._fd)
                    except OSError:
                        pass
                self._fd = None
                self._file_lock.close()


# The policy-file sections this module owns (declared by the interceptor that uses them).
AUDIT_SECTION = Section("audit", _parse_audit, default=AuditSettings, doc="where decisions are recorded, how much of a call is kept, tamper evidence")
