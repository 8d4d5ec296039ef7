"""Tamper evidence for the audit log: the record format, sealing records into one global hash chain, and
finding where the chain ends.

Why one global chain
    After ``mcpwrap enable`` every wrapped server runs its own mcpwrap process, and all of them append to one
    log. Each process appends a flush (one read's records) as a single ``write()`` while holding an exclusive
    ``flock`` on a lock file next to the log (``<log>.lock``, never rotated). Under the lock it reads the
    chain position of the file's last record from the file itself (:func:`read_chain_tail`, a ``pread`` of
    the tail), seals its records after it and writes them. So the file is one chain in file order, whoever
    wrote each line:

    - a per-session chain cannot show that a *whole* session (start to end) was deleted; the global chain can;
    - the state lives only in the log, so a writer killed at any point leaves nothing stale: the next writer
      continues from whatever is really at the end of the file;
    - the lock is held for one ``pread`` and one ``write`` (microseconds), is released by the kernel when a
      holder dies, and is uncontended in the common case of one busy server.

    Every record also carries ``session`` and ``seq`` (its position in its session, from the
    ``session-start`` record at 0 to the ``session-end`` record), and the ``session-start`` record says which
    process wrote it (``wrapper``, see :mod:`mcpwrap._audit.identity`). That is what makes the end of the log
    checkable: a session without an end record whose process is no longer running was cut short — the writer
    was killed, or the newest records were removed.

Record format
    A record is serialised once, when it is made (``{"ts":…,"event":…,…}``). Sealing at flush time appends
    the chain fields to those bytes without re-serialising::

        {…record…,"seq":S,"n":N,"prev":"<64 hex>","kid":"<16 hex>","h":"<64 hex>"}

    ``n`` is the record's position in the chain (continuing across rotated files), ``prev`` the ``h`` of the
    record before it (64 zeros for the first record ever), ``kid`` the key id when a key is configured (see
    :mod:`mcpwrap._audit.keys`), and ``h`` = HMAC-SHA256(key, line bytes before ``,"h":``) — or plain SHA-256
    without a key. The MAC covers the exact bytes on disk, so verifying never depends on how JSON is
    re-encoded. :mod:`mcpwrap._audit.verify` checks the chain; :mod:`mcpwrap._audit.files` names rotated files.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable

from .keys import key_id

__all__ = ["GENESIS", "CHAIN_FIELDS", "Sealer", "parse_sealed", "read_chain_tail"]

GENESIS = b"0" * 64  # ``prev`` of the first record of a log
CHAIN_FIELDS = ("seq", "n", "prev", "kid", "h")  # appended when a record is sealed, in this order
TAIL_WINDOW = 4096  # bytes read from the end of the log to find the last record's chain position
TAIL_WINDOW_MAX = 4 * 1024 * 1024  # a torn final fragment longer than this restarts the chain (reported by verify)

# The sealed suffix of a line; matched from the last ``,"seq":`` (JSON strings cannot contain an unescaped
# quote, so the last occurrence of that byte sequence is always the suffix, never part of a value).
_SUFFIX = re.compile(rb',"seq":(\d+),"n":(\d+),"prev":"([0-9a-f]{64})"(?:,"kid":"([0-9a-f]{16})")?,"h":"([0-9a-f]{64})"\}')
_SUFFIX_START = b',"seq":'
_H_FIELD = b',"h":"'


class Sealer:
    """Appends chain fields and the MAC to serialised records (the hot path: one HMAC per record)."""

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
