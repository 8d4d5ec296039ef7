"""The record format and sealing: chain fields appended to the serialised record, the MAC over its exact bytes,
and where a writer continues the chain."""

from __future__ import annotations

import json
import os

import pytest
from audit_factories import KEY, gone, kinds, lines_of, write_log

from mcpwrap._audit.seal import GENESIS, Sealer, parse_sealed, read_chain_tail
from mcpwrap._audit.verify import verify
from mcpwrap._audit.writer import AuditLog
from mcpwrap._message import Session


@pytest.fixture
def log(tmp_path):
    return write_log(tmp_path / "audit.jsonl")


def test_record_format_is_chain_fields_after_the_serialised_record(log):
    first, second = lines_of(log)[:2]
    rec = json.loads(first)
    assert list(rec)[:5] == ["ts", "event", "session", "server", "subject"]
    assert list(rec)[-5:] == ["seq", "n", "prev", "kid", "h"]
    assert rec["prev"] == GENESIS.decode() and rec["n"] == 0 and rec["seq"] == 0
    assert rec["wrapper"]["pid"] == os.getpid()
    assert json.loads(second)["prev"] == rec["h"]


def test_unkeyed_log_is_a_plain_sha256_chain(tmp_path):
    path = write_log(tmp_path / "plain.jsonl", key=None)
    rec = json.loads(lines_of(path)[0])
    assert "kid" not in rec
    report = verify([path], None, state_of=gone)
    assert report.exit_code == 0 and not report.authenticated


def test_mac_covers_exact_bytes_before_h(log):
    line = lines_of(log)[3].rstrip(b"\n")
    seq, n, prev, kid, h, signed = parse_sealed(line)
    assert signed + b',"h":"' + h + b'"}' == line
    assert Sealer(KEY).mac(signed) == h


def test_writer_continues_the_chain_after_a_torn_line(tmp_path):
    path = write_log(tmp_path / "audit.jsonl", key=None, sessions=1, messages=1)
    with open(path, "ab") as f:
        f.write(b'{"ts":"2026')  # a write cut short (disk full)
    log = AuditLog(path, Session("s9", "x"), key=None)
    log.record("session-start")
    log.record("session-end")
    log.close()
    report = verify([path], None, state_of=gone)
    assert kinds(report) == ["malformed"]  # only the fragment; the chain links across it
    assert report.sessions == 2 and report.ended == 2


def test_read_chain_tail_finds_the_last_record_of_a_long_line(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, Session("s", "x"), key=None)
    log.record("session-start", blob="x" * 20000)
    log.flush()
    fd = os.open(path, os.O_RDONLY)
    try:
        n, prev, torn = read_chain_tail(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    assert n == 1 and prev == json.loads(path.read_text())["h"].encode() and not torn
