"""Tamper evidence for the audit log: one locked global hash chain, optional HMAC, and its verification.

Why one global chain
    After ``mcpwrap enable`` every wrapped server runs its own mcpwrap process, and all of them append to one
    log. Each process appends a flush (one read's records) as a single ``write()`` while holding an exclusive
    ``flock`` on a lock file next to the log (``<log>.lock``, never rotated). Under the lock it reads the
    chain position of the file's last record from the file itself (a ``pread`` of the tail), seals its records
    after it and writes them. So the file is one chain in file order, whoever wrote each line:

    - a per-session chain cannot show that a *whole* session (start to end) was deleted; the global chain can;
    - the state lives only in the log, so a writer killed at any point leaves nothing stale: the next writer
      continues from whatever is really at the end of the file;
    - the lock is held for one ``pread`` and one ``write`` (microseconds), is released by the kernel when a
      holder dies, and is uncontended in the common case of one busy server.

    Every record also carries ``session`` and ``seq`` (its position in its session, from the
    ``session-start`` record at 0 to the ``session-end`` record), and the ``session-start`` record says which
    process wrote it (``wrapper``: pid, host, boot id, process start time). That is what makes the end of the
    log checkable: a session without an end record whose process is no longer running was cut short — the
    writer was killed, or the newest records were removed.

Record format
    A record is serialised once, when it is made (``{"ts":…,"event":…,…}``). Sealing at flush time appends
    the chain fields to those bytes without re-serialising::

        {…record…,"seq":S,"n":N,"prev":"<64 hex>","kid":"<16 hex>","h":"<64 hex>"}

    ``n`` is the record's position in the chain (continuing across rotated files), ``prev`` the ``h`` of the
    record before it (64 zeros for the first record ever), ``kid`` the key id when a key is configured, and
    ``h`` = HMAC-SHA256(key, line bytes before ``,"h":``) — or plain SHA-256 without a key. The MAC covers
    the exact bytes on disk, so verifying never depends on how JSON is re-encoded.

    Without a key the chain shows accidental damage and naive edits, but someone who can write the file can
    recompute every hash after their edit. With a key (``mcpwrap audit init-key``, or ``MCPWRAP_AUDIT_KEY``)
    records cannot be forged or altered without it.

Rotation
    When the file has reached ``audit.rotate_size``, the writer that notices (holding the lock) renames it to
    ``<log>.<UTC timestamp>`` and starts the new file with a ``log-rotated`` record that continues the chain
    (same ``n`` sequence, ``prev`` = last ``h`` of the old file). Other writers see the inode change under the
    lock and reopen. Verifying the rotated files and the live file together checks one unbroken chain.

Verification (:func:`verify`)
    Kinds of damage reported, each with file and line: ``edited`` (a record's MAC does not match its bytes,
    or its successor vouches for different bytes), ``deleted`` (chain positions or session sequence numbers
    missing), ``inserted`` (a record that does not belong to the chain: forged, or a replayed copy),
    ``reordered`` (all records present, out of order), ``truncated`` (a session with no end record whose
    process is not running), ``wrong-key`` (sealed with another key), ``unauthenticated`` (no MAC although a
    key is given), ``malformed`` / ``torn`` (not a sealed record; a final line without its newline).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .._errors import AuditError

__all__ = [
    "GENESIS",
    "KEY_ENV",
    "Sealer",
    "key_id",
    "load_key",
    "init_key",
    "default_key_path",
    "read_chain_tail",
    "wrapper_identity",
    "process_state",
    "rotated_files",
    "log_files",
    "Problem",
    "Report",
    "verify",
]

KEY_ENV = "MCPWRAP_AUDIT_KEY"
KEY_FILE_NAME = "audit.key"
MIN_KEY_CHARS = 16  # shorter keys are guessable; init-key writes 64 hex characters (256 bits)
GENESIS = b"0" * 64  # ``prev`` of the first record of a log
TAIL_WINDOW = 4096  # bytes read from the end of the log to find the last record's chain position
TAIL_WINDOW_MAX = 4 * 1024 * 1024  # a torn final fragment longer than this restarts the chain (reported by verify)
_KID_DOMAIN = b"mcpwrap audit key id\x00"

# The sealed suffix of a line; matched from the last ``,"seq":`` (JSON strings cannot contain an unescaped
# quote, so the last occurrence of that byte sequence is always the suffix, never part of a value).
_SUFFIX = re.compile(rb',"seq":(\d+),"n":(\d+),"prev":"([0-9a-f]{64})"(?:,"kid":"([0-9a-f]{16})")?,"h":"([0-9a-f]{64})"\}')
_SUFFIX_START = b',"seq":'
_H_FIELD = b',"h":"'


# --- keys -------------------------------------------------------------------------------------------------------


def default_key_path() -> Path:
    from .._paths import audit_key_path

    return audit_key_path()


def key_id(key: bytes) -> str:
    """A short public name for a key, recorded in every record it seals (never the key itself)."""
    return hashlib.sha256(_KID_DOMAIN + key).hexdigest()[:16]


def _check_key(material: bytes, where: str) -> bytes:
    material = material.strip()
    if len(material) < MIN_KEY_CHARS:
        raise AuditError(f"audit key from {where} is too short ({len(material)} characters; at least {MIN_KEY_CHARS})")
    return material


def load_key(key_file: str | os.PathLike | None = None, *, environ: dict | None = None) -> bytes | None:
    """The audit key: ``MCPWRAP_AUDIT_KEY``, else ``key_file``, else ``$MCPWRAP_HOME/audit.key`` if present.

    A key file readable by group or others is refused (like ssh refuses such private keys): a key anyone can
    read authenticates nothing.
    """
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return _check_key(env[KEY_ENV].encode("utf-8"), KEY_ENV)
    explicit = key_file is not None
    path = Path(os.path.expanduser(os.fspath(key_file))) if explicit else default_key_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if explicit:
            raise AuditError(f"audit key file not found: {path}") from None
        return None
    except OSError as exc:
        raise AuditError(f"cannot read audit key file {path}: {exc.strerror or exc}") from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise AuditError(
            f"audit key file {path} is accessible by others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        material = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read audit key file {path}: {exc.strerror or exc}") from None
    return _check_key(material, str(path))


def init_key(path: str | os.PathLike | None = None, *, force: bool = False) -> tuple[Path, str]:
    """Create a new random key file (mode 0600). Refuses to replace one unless ``force``: old logs need it."""
    target = Path(os.path.expanduser(os.fspath(path))) if path is not None else default_key_path()
    import secrets

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    material = secrets.token_hex(32).encode("ascii")
    if target.exists() and not force:
        raise AuditError(f"{target} already exists; logs sealed with it need it to verify (use --force to replace it)")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, material + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    if force:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # atomic create-if-absent: never replaces a key created meanwhile
        except FileExistsError:
            raise AuditError(f"{target} already exists") from None
        finally:
            os.unlink(tmp)
    return target, key_id(material)


# --- sealing (the hot path) ---------------------------------------------------------------------------------------


class Sealer:
    """Appends chain fields and the MAC to serialised records."""

    __slots__ = ("kid", "_kid_part", "_mac")

    def __init__(self, key: bytes | None) -> None:
        if key is None:
            self.kid = None
            self._kid_part = b""
            sha256 = hashlib.sha256
            self._mac: Callable[[bytes], bytes] = lambda data: binascii.hexlify(sha256(data).digest())
        else:
            self.kid = key_id(key)
            self._kid_part = b',"kid":"' + self.kid.encode("ascii") + b'"'
            base = hmac.new(key, digestmod=hashlib.sha256)  # keyed state computed once, copied per record

            def mac(data: bytes) -> bytes:
                h = base.copy()
                h.update(data)
                return binascii.hexlify(h.digest())

            self._mac = mac

    def seal(self, bodies: Iterable[bytes], seq: int, n: int, prev: bytes) -> tuple[list[bytes], int, int, bytes]:
        """Seal ``bodies`` (each a serialised JSON object) after chain position ``n - 1`` whose hash is ``prev``.

        Returns the line parts to write and the next (seq, n, prev).
        """
        parts: list[bytes] = []
        mac = self._mac
        kid_part = self._kid_part
        for body in bodies:
            signed = b'%b,"seq":%d,"n":%d,"prev":"%b"%b' % (body[:-1], seq, n, prev, kid_part)
            prev = mac(signed)
            parts.append(signed)
            parts.append(b',"h":"%b"}\n' % prev)
            seq += 1
            n += 1
        return parts, seq, n, prev

    def mac(self, signed: bytes) -> bytes:
        return self._mac(signed)


def parse_sealed(line: bytes) -> tuple[int, int, bytes, str | None, bytes, bytes] | None:
    """(seq, n, prev, kid, h, signed bytes) of a sealed line (without its newline), or None."""
    start = line.rfind(_SUFFIX_START)
    if start < 0:
        return None
    m = _SUFFIX.fullmatch(line, start)
    if m is None:
        return None
    kid = m.group(4)
    return int(m.group(1)), int(m.group(2)), m.group(3), kid.decode("ascii") if kid else None, m.group(5), line[: line.rfind(_H_FIELD)]


def read_chain_tail(fd: int, size: int) -> tuple[int, bytes, bool]:
    """The chain position to continue from: (next n, prev hash, whether the file lacks a final newline)."""
    if size <= 0:
        return 0, GENESIS, False
    window = min(size, TAIL_WINDOW)
    while True:
        data = os.pread(fd, window, size - window)
        needs_newline = not data.endswith(b"\n")
        lines = data.split(b"\n")
        # The first piece may be the middle of a line (unless the window starts at offset 0).
        candidates = lines[1:] if window < size else lines
        for line in reversed(candidates[:-1]):  # the last piece is b"" or a torn fragment
            parsed = parse_sealed(line)
            if parsed is not None:
                return parsed[1] + 1, parsed[4], needs_newline
        if window >= size or window >= TAIL_WINDOW_MAX:
            return 0, GENESIS, needs_newline
        window = min(size, window * 16)


# --- who wrote a session, and is it still running ----------------------------------------------------------------


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _proc_start(pid: int | str) -> str | None:
    """The start time of a process in clock ticks since boot (Linux), to tell a reused pid from the original."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket on wrap's path


def wrapper_identity() -> dict:
    """What a ``session-start`` record says about the process writing the session."""
    ident: dict[str, Any] = {"pid": os.getpid(), "host": _hostname()}
    boot = _read_text("/proc/sys/kernel/random/boot_id")
    if boot:
        ident["boot"] = boot
    started = _proc_start("self")
    if started:
        ident["started"] = started
    return ident


def process_state(ident: Any) -> str:
    """``running``, ``gone``, or ``unknown`` (another host, or too little recorded to tell)."""
    if not isinstance(ident, dict) or not isinstance(ident.get("pid"), int):
        return "unknown"
    if ident.get("host") != _hostname():
        return "unknown"
    boot = _read_text("/proc/sys/kernel/random/boot_id")
    if boot and ident.get("boot") and ident["boot"] != boot:
        return "gone"  # recorded before the last reboot
    pid = ident["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return "unknown"
    if ident.get("started"):
        now = _proc_start(pid)
        if now is not None and now != ident["started"]:
            return "gone"  # the pid was reused by another process
    return "running"


# --- files ----------------------------------------------------------------------------------------------------------

_ROTATED_SUFFIX = re.compile(r"\.\d{8}T\d{6}\.\d{6}Z(?:-\d+)?$")


def rotated_files(path: str | os.PathLike) -> list[Path]:
    """The rotated predecessors of a log, oldest first (their names sort chronologically)."""
    p = Path(path)
    try:
        names = os.listdir(p.parent if str(p.parent) else ".")
    except OSError:
        return []
    prefix = p.name + "."
    return sorted(p.parent / n for n in names if n.startswith(prefix) and _ROTATED_SUFFIX.search(n[len(p.name) :]))


def log_files(path: str | os.PathLike) -> list[Path]:
    """A log with its rotated predecessors, oldest first: the whole chain."""
    p = Path(path)
    files = rotated_files(p)
    if p.exists() or not files:
        files.append(p)
    return files


# --- verification ---------------------------------------------------------------------------------------------------

KINDS = ("edited", "deleted", "inserted", "reordered", "truncated", "wrong-key", "unauthenticated", "malformed", "torn")


@dataclass
class Problem:
    file: str
    line: int
    kind: str
    message: str
    session: str | None = None
    order: int = 0  # position in the whole file set, for "first bad line"

    def as_dict(self) -> dict:
        d = {"file": self.file, "line": self.line, "kind": self.kind, "message": self.message}
        if self.session:
            d["session"] = self.session
        return d


@dataclass
class Report:
    files: list[str]
    records: int = 0
    sessions: int = 0
    ended: int = 0
    running: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # open sessions on another host: cannot tell
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_ids: set = field(default_factory=set)
    authenticated: bool = False
    unusable: str | None = None  # why the input cannot be verified at all (exit 2)

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.order) if self.problems else None

    @property
    def exit_code(self) -> int:
        if self.unusable:
            return 2
        return 1 if self.problems else 0

    def as_dict(self) -> dict:
        first = self.first
        return {
            "ok": self.exit_code == 0,
            "status": "unusable" if self.unusable else ("damaged" if self.problems else "intact"),
            "files": self.files,
            "records": self.records,
            "sessions": {"total": self.sessions, "ended": self.ended, "running": self.running, "unknown_host": self.unknown},
            "authenticated": self.authenticated,
            "key_ids": sorted(self.key_ids),
            "first_bad": first.as_dict() if first else None,
            "problems": [p.as_dict() for p in sorted(self.problems, key=lambda p: p.order)],
            "notes": self.notes,
            **({"error": self.unusable} if self.unusable else {}),
        }


@dataclass
class _Line:
    file: str
    line: int
    order: int
    raw: bytes
    record: dict | None = None
    seq: int = -1
    n: int = -1
    prev: bytes = b""
    kid: str | None = None
    h: bytes = b""
    mac_ok: bool = False
    torn: bool = False  # the file's last line, without its newline


@dataclass
class _SessionState:
    first: _Line
    last: _Line
    next_seq: int = 0
    started: bool = False
    ended: bool = False
    wrapper: Any = None
    server: Any = None


def _load(files: list[str], report: Report) -> list[_Line] | None:
    out: list[_Line] = []
    order = 0
    for name in files:
        try:
            data = Path(name).read_bytes()
        except FileNotFoundError:
            report.unusable = f"{name}: no such file"
            return None
        except OSError as exc:
            report.unusable = f"{name}: cannot read: {exc.strerror or exc}"
            return None
        pieces = data.split(b"\n")
        last = pieces.pop()  # b"" when the file ends with a newline
        for i, raw in enumerate(pieces, 1):
            out.append(_Line(name, i, order, raw))
            order += 1
        if last:
            out.append(_Line(name, len(pieces) + 1, order, last, torn=True))
            order += 1
    return out


def verify(files: list[str | os.PathLike], key: bytes | None, *, state_of: Callable[[Any], str] = process_state) -> Report:
    """Check one chain across ``files`` (oldest first). See the module docstring for the kinds of damage."""
    names = [os.fspath(f) for f in files]
    report = Report(files=names)
    lines = _load(names, report)
    if lines is None:
        return report
    sealer = Sealer(key) if key is not None else None
    plain = Sealer(None)
    my_kid = sealer.kid if sealer else None
    problems: dict[int, Problem] = {}  # by line order: one problem per line, the first found

    def add(ln: _Line, kind: str, message: str, session: str | None = None) -> None:
        if ln.order not in problems:
            problems[ln.order] = Problem(ln.file, ln.line, kind, message, session, ln.order)

    # Pass 1: parse every line and check its own MAC.
    sealed: list[_Line] = []
    parsed_any = False
    wrong_kids: set[str] = set()
    keyed_without_key = False
    for ln in lines:
        raw = ln.raw.rstrip(b"\r")
        torn = ln.torn
        if not raw.strip():
            add(ln, "malformed", "empty line")
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            if torn:
                add(ln, "torn", "the last line has no end: a write was cut short (disk full?) or the file was cut")
            else:
                add(ln, "malformed", "not a JSON record (a fragment of a cut-short write, or foreign text)")
            continue
        if not isinstance(rec, dict):
            add(ln, "malformed", "not a JSON object")
            continue
        parsed_any = True
        info = parse_sealed(raw)
        if info is None:
            add(ln, "inserted" if "event" in rec else "malformed", "a record without chain fields: not written by mcpwrap's sealed writer")
            continue
        if torn:
            add(ln, "torn", "the last record has no newline: the file was cut or a write was cut short")
        ln.record = rec
        ln.seq, ln.n, ln.prev, ln.kid, ln.h, signed = info
        if ln.kid is not None:
            report.key_ids.add(ln.kid)
        if ln.kid is None:
            ln.mac_ok = plain.mac(signed) == ln.h
            if sealer is not None and ln.mac_ok:
                add(ln, "unauthenticated", "record has a plain hash, no MAC, although the log is verified with a key: anyone could have written it", rec.get("session"))
        elif sealer is None:
            keyed_without_key = True  # cannot be checked: the whole input is unusable (reported below)
        elif ln.kid != my_kid:
            ln.mac_ok = True
            if ln.kid not in wrong_kids:
                wrong_kids.add(ln.kid)
                add(ln, "wrong-key", f"record was sealed with key {ln.kid}, not with the given key {my_kid}", rec.get("session"))
        else:
            ln.mac_ok = sealer.mac(signed) == ln.h
        sealed.append(ln)
    report.records = len(sealed)
    if not parsed_any:
        if not lines:
            report.notes.append("empty log")
            return report
        report.unusable = "no audit records found (not an mcpwrap audit log?)"
        return report
    if keyed_without_key:
        report.unusable = (
            f"records are authenticated with key {', '.join(sorted(report.key_ids))}; give the key "
            f"({KEY_ENV}, --key-file, or {default_key_path()}) to verify them"
        )
        return report
    report.authenticated = sealer is not None and not wrong_kids and all(ln.kid == my_kid for ln in sealed)

    # Pass 2: the global chain.
    prev_of: dict[int, bytes] = {}  # n -> prev claimed by a MAC-valid record at n (vouches for record n-1)
    all_n: set[int] = set()
    for ln in sealed:
        if ln.mac_ok:
            all_n.add(ln.n)
            prev_of.setdefault(ln.n, ln.prev)
    first = sealed[0] if sealed else None
    expect_n, expect_prev = 0, GENESIS
    partial = False
    if first is not None and not (first.n == 0 and first.prev == GENESIS):
        if first.record and first.record.get("event") == "log-rotated":
            partial = True
            expect_n, expect_prev = first.n, first.prev
            report.notes.append(
                f"{first.file} continues from {first.record.get('previous', 'an earlier file')}, which was not given: "
                "the chain is checked from its first record on"
            )
    seen: dict[int, _Line] = {}
    reported_missing: set[int] = set()
    prev_line: _Line | None = None
    for idx, ln in enumerate(sealed):
        sess = ln.record.get("session") if ln.record else None
        if not ln.mac_ok:
            nxt = sealed[idx + 1] if idx + 1 < len(sealed) else None
            if nxt is not None and nxt.prev == expect_prev and nxt.n == expect_n:
                add(ln, "inserted", "record does not belong to the chain (its MAC is invalid and its neighbours link without it)", sess)
                continue
            add(ln, "edited", "record's content does not match its MAC: it was changed after it was written", sess)
            expect_n, expect_prev, prev_line = ln.n + 1, ln.h, ln
            seen.setdefault(ln.n, ln)
            continue
        if ln.n in seen:
            other = seen[ln.n]
            if other.h == ln.h:
                add(ln, "inserted", f"a copy of the record at {other.file}:{other.line} (chain position {ln.n}) was inserted", sess)
            else:
                genuine_h = prev_of.get(ln.n + 1)
                forged = ln if genuine_h == other.h else other
                if forged is ln or forged.order not in problems:
                    add(forged, "inserted", f"lines {other.line} and {ln.line} both claim chain position {ln.n}; this one is not vouched for by its successor", sess)
            continue
        seen[ln.n] = ln
        if ln.n < expect_n:
            if ln.n in reported_missing:
                continue  # the earlier report named this as out of order
            add(ln, "reordered", f"chain position {ln.n} appears after position {expect_n - 1}", sess)
            continue
        if ln.n > expect_n:
            missing = range(expect_n, ln.n)
            later = [m for m in missing if m in all_n]
            if later and len(later) == len(missing):
                add(ln, "reordered", f"records are out of order: chain position {ln.n} comes before {expect_n}", sess)
                reported_missing.update(missing)
            else:
                count = len(missing) - len(later)
                where = "before the first record" if prev_line is None else f"after {prev_line.file}:{prev_line.line}"
                add(ln, "deleted", f"{count} record(s) missing {where} (chain positions {expect_n}..{ln.n - 1})", sess)
                reported_missing.update(later)
        elif ln.prev != expect_prev and prev_line is not None:
            add(prev_line, "edited", f"the next record vouches for different content (hash {ln.prev[:12].decode()}…): this record was altered", prev_line.record.get("session") if prev_line.record else None)
        expect_n, expect_prev, prev_line = ln.n + 1, ln.h, ln

    # Pass 3: sessions (sequence, start, end, and whether an open session's writer is still running).
    sessions: dict[str, _SessionState] = {}
    for ln in sealed:
        rec = ln.record or {}
        sid = rec.get("session")
        if not isinstance(sid, str):
            continue
        event = rec.get("event")
        st = sessions.get(sid)
        if st is None:
            st = sessions[sid] = _SessionState(first=ln, last=ln, next_seq=ln.seq)
            if ln.seq == 0:
                if event != "session-start":
                    add(ln, "deleted", "session's first record is not its session-start record", sid)
            elif not partial:  # in a partial check any session may have begun in the missing earlier file
                add(ln, "deleted", f"session {sid} begins at sequence {ln.seq}: its first {ln.seq} record(s) are missing", sid)
        if event == "session-start":
            st.started = True
            st.wrapper = rec.get("wrapper")
            st.server = rec.get("server")
        if st.ended:
            add(ln, "inserted", f"record after the end of session {sid}", sid)
        if ln.seq > st.next_seq:
            add(ln, "deleted", f"{ln.seq - st.next_seq} record(s) of session {sid} missing before this one", sid)
        elif ln.seq < st.next_seq:
            add(ln, "reordered", f"session {sid} sequence {ln.seq} appears after {st.next_seq - 1}", sid)
        st.next_seq = max(st.next_seq, ln.seq + 1)
        st.last = ln
        if event == "session-end":
            st.ended = True
    report.sessions = len(sessions)
    for sid, st in sessions.items():
        if st.ended:
            report.ended += 1
            continue
        state = state_of(st.wrapper) if st.wrapper is not None else "unknown"
        if state == "running":
            report.running.append(sid)
        elif state == "gone" or (st.wrapper is None and not partial):
            who = st.wrapper or {}
            add(
                st.last,
                "truncated",
                f"session {sid} ({st.server or 'server ?'}, mcpwrap pid {who.get('pid', '?')} on {who.get('host', '?')}) has no "
                "end record and its process is no longer running: the writer was killed (SIGKILL, crash, power loss) "
                "or the newest records were removed; this is its last record",
                sid,
            )
        else:
            report.unknown.append(sid)
            report.notes.append(f"session {sid} is open; its writer ran on {st.wrapper.get('host') if isinstance(st.wrapper, dict) else 'an unknown host'} and cannot be checked from here")
    report.problems = sorted(problems.values(), key=lambda p: p.order)
    return report

