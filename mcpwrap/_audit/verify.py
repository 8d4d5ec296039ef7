"""Verifying an audit log: one chain across the rotated files and the live file (``mcpwrap audit verify``).

:func:`verify` reads every line of the files (oldest first) and checks them in three passes, each a small
object of its own:

1. :class:`_Lines` — every line on its own: is it a sealed record (see :mod:`mcpwrap._audit.seal`), and does
   its MAC match its bytes under the given key?
2. :class:`_ChainWalk` — the global chain in file order: positions ``n`` consecutive, each ``prev`` the hash
   of the record before. A gap is a deletion, unless the missing positions appear later (a reordering); a
   record whose MAC fails is an edit, unless its neighbours link without it (an insertion); two records at
   one position are a replayed copy or a forgery, and the successor's ``prev`` tells which one is genuine.
3. :class:`_SessionWalk` — each session: starts with its ``session-start`` record at sequence 0, no sequence
   number missing or repeated, nothing after its ``session-end``; and a session without an end record whose
   writer is no longer running (:func:`mcpwrap._audit.identity.process_state`) was cut short.

Kinds of damage reported, each with file and line: ``edited`` (a record's MAC does not match its bytes, or its
successor vouches for different bytes), ``deleted`` (chain positions or session sequence numbers missing),
``inserted`` (a record that does not belong to the chain: forged, or a replayed copy), ``reordered`` (all
records present, out of order), ``truncated`` (a session with no end record whose process is not running),
``wrong-key`` (sealed with another key), ``unauthenticated`` (no MAC although a key is given), ``malformed`` /
``torn`` (not a sealed record; a final line without its newline). Each line is reported once, with the first
problem found. Input that cannot be verified at all (a missing file, not a log, a keyed log without its key)
makes the report *unusable* (exit 2) rather than damaged (exit 1).

A key added to a log that already has records (``mcpwrap audit init-key``, which seals a ``key-added`` record
with the new key at once) starts an authenticated segment. The records before the first record sealed with
the given key are *before the key*: counted, not reported as ``unauthenticated`` or ``wrong-key``. They are
not unprotected: the first keyed record's MAC covers the hash of the record before it, which covers the one
before that, so altering, inserting or deleting any of them after the key was added still breaks the chain
at a MAC nobody can recompute without the key. What no key can prove is what happened to them before it
existed. After that first keyed record, a record without the key's MAC is damage, as always: a keyed writer
would vouch for whatever it finds at the end of the file, so nothing unkeyed may follow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._fs import read_file
from .identity import process_state
from .keys import KEY_ENV, default_key_path
from .seal import GENESIS, Sealer, parse_sealed

__all__ = ["KINDS", "Problem", "Report", "verify"]

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
    before_key: int = 0  # records before the first record sealed with the given key (see the module docstring)
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
            "before_key": self.before_key,
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
    signed: bytes = b""  # the bytes the MAC covers
    mac_ok: bool = False
    torn: bool = False  # the file's last line, without its newline

    @property
    def session(self) -> str | None:
        return self.record.get("session") if self.record else None


class _Problems:
    """One problem per line (the first found), in file order."""

    def __init__(self) -> None:
        self.by_order: dict[int, Problem] = {}

    def add(self, ln: _Line, kind: str, message: str, session: str | None = None) -> None:
        if ln.order not in self.by_order:
            self.by_order[ln.order] = Problem(ln.file, ln.line, kind, message, session, ln.order)

    def has(self, ln: _Line) -> bool:
        return ln.order in self.by_order

    def sorted(self) -> list[Problem]:
        return sorted(self.by_order.values(), key=lambda p: p.order)


def _load(files: list[str], report: Report) -> list[_Line] | None:
    """Every line of the files in order (a file's last line without a newline marked torn); None if a file
    cannot be read (the report says why)."""
    out: list[_Line] = []
    order = 0
    for name in files:
        try:
            data = read_file(name, what="audit log", owned=False)  # never through a link: not the file mcpwrap wrote
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


# --- pass 1: each line on its own -----------------------------------------------------------------------------------


class _Lines:
    def __init__(self, key: bytes | None, report: Report, problems: _Problems) -> None:
        self.report = report
        self.problems = problems
        self.sealer = Sealer(key) if key is not None else None
        self.plain = Sealer(None)
        self.my_kid = self.sealer.kid if self.sealer else None
        self.parsed_any = False
        self.wrong_kids: set[str] = set()
        self.keyed_without_key = False  # a MAC that cannot be checked: the whole input is unusable
        self.key_start: int | None = None  # order of the first record sealed with the given key

    def sealed(self, lines: list[_Line]) -> list[_Line]:
        """The lines that are sealed records, each with its fields and whether its MAC holds."""
        out = [ln for ln in lines if self._parse(ln)]
        if self.sealer is not None:
            # The records sealed with the given key first: the first one whose MAC holds starts its segment.
            for ln in out:
                if ln.kid == self.my_kid:
                    ln.mac_ok = self.sealer.mac(ln.signed) == ln.h
                    if ln.mac_ok and self.key_start is None:
                        self.key_start = ln.order
                        # Records before the key are allowed only where a key was added to a log with records: the
                        # first keyed record is then the ``key-added`` marker. Otherwise a record whose ``kid`` was
                        # changed (its MAC then goes unchecked) would pass as "before the key" with any content.
                        if ln is not out[0] and (ln.record or {}).get("event") != "key-added":
                            self.key_start = out[0].order
        for ln in out:
            self._check_mac(ln)
        return out

    def _before_key(self, ln: _Line) -> bool:
        return self.key_start is not None and ln.order < self.key_start

    def _parse(self, ln: _Line) -> bool:
        add = self.problems.add
        raw = ln.raw.rstrip(b"\r")
        if not raw.strip():
            add(ln, "malformed", "empty line")
            return False
        try:
            rec = json.loads(raw)
        except ValueError:
            if ln.torn:
                add(ln, "torn", "the last line has no end: a write was cut short (disk full?) or the file was cut")
            else:
                add(ln, "malformed", "not a JSON record (a fragment of a cut-short write, or foreign text)")
            return False
        if not isinstance(rec, dict):
            add(ln, "malformed", "not a JSON object")
            return False
        self.parsed_any = True
        info = parse_sealed(raw)
        if info is None:
            add(ln, "inserted" if "event" in rec else "malformed", "a record without chain fields: not written by mcpwrap's sealed writer")
            return False
        if ln.torn:
            add(ln, "torn", "the last record has no newline: the file was cut or a write was cut short")
        ln.record = rec
        ln.seq, ln.n, ln.prev, ln.kid, ln.h, ln.signed = info
        return True

    def _check_mac(self, ln: _Line) -> None:
        if ln.kid is None:
            ln.mac_ok = self.plain.mac(ln.signed) == ln.h
            if self._before_key(ln):
                self.report.before_key += 1
            elif self.sealer is not None and ln.mac_ok:
                self.problems.add(
                    ln, "unauthenticated",
                    "record has a plain hash, no MAC, although the log is verified with a key: anyone could have written it",
                    ln.session,
                )  # fmt: skip
            return
        self.report.key_ids.add(ln.kid)
        if self.sealer is None:
            self.keyed_without_key = True
        elif ln.kid != self.my_kid:
            ln.mac_ok = True  # reported once per foreign key; its records still link the chain
            if self._before_key(ln):  # sealed with an earlier key, replaced since (init-key --force)
                self.report.before_key += 1
            elif ln.kid not in self.wrong_kids:
                self.wrong_kids.add(ln.kid)
                self.problems.add(ln, "wrong-key", f"record was sealed with key {ln.kid}, not with the given key {self.my_kid}", ln.session)
        # records sealed with the given key: checked in sealed()

    def unusable(self, lines: list[_Line], sealed: list[_Line]) -> bool:
        """Whether the input cannot be verified at all (the report says why, or that the log is empty)."""
        report = self.report
        if not self.parsed_any:
            if not lines:
                report.notes.append("empty log")
                return True
            report.unusable = "no audit records found (not an mcpwrap audit log?)"
            return True
        if self.keyed_without_key:
            report.unusable = (
                f"records are authenticated with key {', '.join(sorted(report.key_ids))}; give the key "
                f"({KEY_ENV}, --key-file, or {default_key_path()}) to verify them"
            )
            return True
        report.authenticated = (
            self.sealer is not None
            and self.key_start is not None
            and not self.wrong_kids
            and all(ln.kid == self.my_kid for ln in sealed if not self._before_key(ln))
        )
        if self.sealer is not None and self.key_start is None:
            report.notes.append(f"no record in these files is sealed with the given key {self.my_kid}")
        return False


# --- pass 2: the global chain ---------------------------------------------------------------------------------------


class _ChainWalk:
    def __init__(self, sealed: list[_Line], report: Report, problems: _Problems) -> None:
        self.sealed = sealed
        self.problems = problems
        # What MAC-valid records claim: the positions present, and for each n the prev its record vouches for.
        self.prev_of: dict[int, bytes] = {}
        self.all_n: set[int] = set()
        for ln in sealed:
            if ln.mac_ok:
                self.all_n.add(ln.n)
                self.prev_of.setdefault(ln.n, ln.prev)
        self.expect_n, self.expect_prev = 0, GENESIS
        self.prev_line: _Line | None = None
        self.seen: dict[int, _Line] = {}
        self.reported_missing: set[int] = set()
        self.partial = self._continues_earlier_file(report)

    def _continues_earlier_file(self, report: Report) -> bool:
        """A first file that starts with a ``log-rotated`` record whose predecessor was not given: check the
        chain from there on (a partial check)."""
        first = self.sealed[0] if self.sealed else None
        if first is None or (first.n == 0 and first.prev == GENESIS):
            return False
        if not (first.record and first.record.get("event") == "log-rotated"):
            return False
        self.expect_n, self.expect_prev = first.n, first.prev
        previous = first.record.get("previous")
        if isinstance(previous, str) and previous and not os.path.lexists(os.path.join(os.path.dirname(first.file), os.path.basename(previous))):
            # mcpwrap never removes a rotated file: one that is gone took its records with it.
            self.problems.add(
                first, "deleted",
                f"the chain continues from {previous}, which no longer exists beside it: the records of that file (and any before it) were deleted",
            )  # fmt: skip
            return True
        report.notes.append(
            f"{first.file} continues from {first.record.get('previous', 'an earlier file')}, which was not given: "
            "the chain is checked from its first record on"
        )
        return True

    def run(self) -> None:
        for idx, ln in enumerate(self.sealed):
            if not ln.mac_ok:
                self._unverified(idx, ln)
            elif ln.n in self.seen:
                self._same_position(ln)
            else:
                self.seen[ln.n] = ln
                if ln.n < self.expect_n:
                    self._behind(ln)
                    continue
                if ln.n > self.expect_n:
                    self._gap(ln)
                elif ln.prev != self.expect_prev and self.prev_line is not None:
                    before = self.prev_line
                    self.problems.add(
                        before, "edited",
                        f"the next record vouches for different content (hash {ln.prev[:12].decode()}…): this record was altered",
                        before.session,
                    )  # fmt: skip
                self._advance(ln)

    def _advance(self, ln: _Line) -> None:
        self.expect_n, self.expect_prev, self.prev_line = ln.n + 1, ln.h, ln

    def _unverified(self, idx: int, ln: _Line) -> None:
        """A record whose MAC fails: inserted if its neighbours link without it, else edited in place."""
        nxt = self.sealed[idx + 1] if idx + 1 < len(self.sealed) else None
        if nxt is not None and nxt.prev == self.expect_prev and nxt.n == self.expect_n:
            self.problems.add(ln, "inserted", "record does not belong to the chain (its MAC is invalid and its neighbours link without it)", ln.session)
            return
        self.problems.add(ln, "edited", "record's content does not match its MAC: it was changed after it was written", ln.session)
        self._advance(ln)
        self.seen.setdefault(ln.n, ln)

    def _same_position(self, ln: _Line) -> None:
        """A second record at a chain position: a copy, or a forgery the successor's ``prev`` does not vouch for."""
        other = self.seen[ln.n]
        if other.h == ln.h:
            self.problems.add(ln, "inserted", f"a copy of the record at {other.file}:{other.line} (chain position {ln.n}) was inserted", ln.session)
            return
        genuine_h = self.prev_of.get(ln.n + 1)
        forged = ln if genuine_h == other.h else other
        if forged is ln or not self.problems.has(forged):
            self.problems.add(
                forged, "inserted",
                f"lines {other.line} and {ln.line} both claim chain position {ln.n}; this one is not vouched for by its successor",
                ln.session,
            )  # fmt: skip

    def _behind(self, ln: _Line) -> None:
        if ln.n in self.reported_missing:
            return  # the earlier report named this as out of order
        self.problems.add(ln, "reordered", f"chain position {ln.n} appears after position {self.expect_n - 1}", ln.session)

    def _gap(self, ln: _Line) -> None:
        """Positions missing before ``ln``: reordered if every one appears later, else deleted."""
        missing = range(self.expect_n, ln.n)
        later = [m for m in missing if m in self.all_n]
        if later and len(later) == len(missing):
            self.problems.add(ln, "reordered", f"records are out of order: chain position {ln.n} comes before {self.expect_n}", ln.session)
            self.reported_missing.update(missing)
            return
        count = len(missing) - len(later)
        before = self.prev_line
        where = "before the first record" if before is None else f"after {before.file}:{before.line}"
        self.problems.add(ln, "deleted", f"{count} record(s) missing {where} (chain positions {self.expect_n}..{ln.n - 1})", ln.session)
        self.reported_missing.update(later)


# --- pass 3: sessions -----------------------------------------------------------------------------------------------


@dataclass
class _Session:
    first: _Line
    last: _Line
    next_seq: int = 0
    started: bool = False
    ended: bool = False
    wrapper: Any = None
    server: Any = None


class _SessionWalk:
    def __init__(self, report: Report, problems: _Problems, *, partial: bool) -> None:
        self.report = report
        self.problems = problems
        self.partial = partial  # any session may have begun in a file that was not given
        self.sessions: dict[str, _Session] = {}

    def run(self, sealed: list[_Line], state_of: Callable[[Any], str]) -> None:
        for ln in sealed:
            sid = ln.session
            if isinstance(sid, str):
                self._record(sid, ln)
        self.report.sessions = len(self.sessions)
        for sid, st in self.sessions.items():
            self._ending(sid, st, state_of)

    def _record(self, sid: str, ln: _Line) -> None:
        add = self.problems.add
        rec = ln.record or {}
        event = rec.get("event")
        st = self.sessions.get(sid)
        if st is None:
            st = self.sessions[sid] = _Session(first=ln, last=ln, next_seq=ln.seq)
            if ln.seq == 0:
                if event != "session-start":
                    add(ln, "deleted", "session's first record is not its session-start record", sid)
            elif not self.partial:
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

    def _ending(self, sid: str, st: _Session, state_of: Callable[[Any], str]) -> None:
        """An ended session; an open one whose writer still runs (or cannot be checked); or a cut-short one."""
        report = self.report
        if st.ended:
            report.ended += 1
            return
        state = state_of(st.wrapper) if st.wrapper is not None else "unknown"
        if state == "running":
            report.running.append(sid)
        elif state == "gone" or (st.wrapper is None and not self.partial):
            who = st.wrapper or {}
            self.problems.add(
                st.last,
                "truncated",
                f"session {sid} ({st.server or 'server ?'}, mcpwrap pid {who.get('pid', '?')} on {who.get('host', '?')}) has no "
                "end record and its process is no longer running: the writer was killed (SIGKILL, crash, power loss) "
                "or the newest records were removed; this is its last record",
                sid,
            )
        else:
            report.unknown.append(sid)
            host = st.wrapper.get("host") if isinstance(st.wrapper, dict) else "an unknown host"
            report.notes.append(f"session {sid} is open; its writer ran on {host} and cannot be checked from here")


def verify(files: Sequence[str | os.PathLike], key: bytes | None, *, state_of: Callable[[Any], str] = process_state) -> Report:
    """Check one chain across ``files`` (oldest first). See the module docstring for the kinds of damage."""
    names = [os.fspath(f) for f in files]
    report = Report(files=names)
    lines = _load(names, report)
    if lines is None:
        return report
    problems = _Problems()
    checker = _Lines(key, report, problems)
    sealed = checker.sealed(lines)
    report.records = len(sealed)
    if checker.unusable(lines, sealed):
        return report
    chain = _ChainWalk(sealed, report, problems)
    chain.run()
    _SessionWalk(report, problems, partial=chain.partial).run(sealed, state_of)
    report.problems = problems.sorted()
    return report
