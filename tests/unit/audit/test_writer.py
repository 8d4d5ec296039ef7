"""The audit writer: argument privacy, failure policy, settings, and many processes appending at once."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap

import pytest

from mcpwrap._audit import writer as _writer
from mcpwrap._audit.verify import verify
from mcpwrap._audit.writer import AuditLog, AuditSettings, parse_size
from mcpwrap._chain import ChainContext, Outcome
from mcpwrap._errors import AuditError, ConfigError
from mcpwrap._message import Action, Direction, Message, Session, Verdict
from mcpwrap.interceptors import audit as _audit
from mcpwrap.interceptors import parse_policy as parse_config
from mcpwrap.interceptors.audit import AuditInterceptor

SECRET = "sk-live-0123456789abcdefABCDEF"


def gone(_ident):
    return "gone"


def call(arguments, session=None) -> Message:
    envelope = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": arguments}}
    return Message(Direction.CLIENT_TO_SERVER, json.dumps(envelope).encode(), envelope, session or Session("s1", "srv", "alice"))


def fake_redact(value):
    """A stand-in for mcpwrap.detect.redact.redact_value: replaces the test secret wherever it occurs."""
    count = 0

    def walk(v):
        nonlocal count
        if isinstance(v, str) and SECRET in v:
            count += v.count(SECRET)
            return v.replace(SECRET, "[REDACTED:api-key]")
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    out = walk(value)
    return out, ({"api-key": count} if count else {})


def observe(tmp_path, mode, arguments, outcome=None, **settings_kw) -> dict:
    log = AuditLog(tmp_path / "a.jsonl", Session("s1", "srv", "alice"), key=None)
    icpt = audit_interceptor(log, AuditSettings(record_arguments=mode, **settings_kw))
    icpt.observe(call(arguments), outcome or Outcome(Action.PASS))
    log.close()
    return json.loads((tmp_path / "a.jsonl").read_text().splitlines()[-1])


@pytest.fixture
def redactor(monkeypatch):
    monkeypatch.setattr(_audit, "_redactor", fake_redact)


# --- what a record keeps of a call -----------------------------------------------------------------------------------


def test_default_mode_is_redacted():
    assert AuditSettings().record_arguments == "redacted"
    assert parse_config({}).values == {} and parse_config({"audit": {}})["audit"].record_arguments == "redacted"


def test_redacted_mode_stores_the_redactors_output(tmp_path, redactor):
    rec = observe(tmp_path, "redacted", {"token": SECRET, "n": 3})
    assert rec["arguments"] == {"token": "[REDACTED:api-key]", "n": 3}
    assert rec["redactions"] == {"api-key": 1} and rec["arguments_form"] == "redacted"
    assert SECRET not in (tmp_path / "a.jsonl").read_text()


def test_reasons_and_details_pass_the_redactor_too(tmp_path, redactor):
    verdict = Verdict.block(f"argument contains {SECRET}", rule="no-secrets", interceptor="policy", details={"match": SECRET})
    rec = observe(tmp_path, "none", {"token": SECRET}, Outcome(Action.BLOCK, verdict, [verdict]))
    assert "arguments" not in rec
    assert rec["action"] == "block" and rec["rule"] == "no-secrets"
    assert SECRET not in (tmp_path / "a.jsonl").read_text()


def test_full_mode_keeps_arguments(tmp_path, redactor):
    rec = observe(tmp_path, "full", {"token": SECRET})
    assert rec["arguments"] == {"token": SECRET} and rec["arguments_form"] == "full"


def test_shape_and_none(tmp_path):
    assert observe(tmp_path, "shape", {"token": SECRET, "n": [1, 2]})["arguments"] == {"token": f"str[{len(SECRET)}]", "n": ["list[2]", "int"]}
    assert "arguments" not in observe(tmp_path, "none", {"token": SECRET})


def test_long_arguments_are_cut(tmp_path, redactor):
    rec = observe(tmp_path, "redacted", {"text": "y" * 5000}, max_argument_chars=100)
    assert isinstance(rec["arguments"], str) and len(rec["arguments"]) == 101 and rec["arguments"].endswith("…")
    assert rec["arguments_form"] == "truncated"  # `policy test --replay` must not read it as the arguments


def test_missing_redactor_falls_back_to_shape_and_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_audit, "_redactor", None)
    monkeypatch.setitem(sys.modules, "mcpwrap.detect.redact", None)  # import fails as if absent
    first = observe(tmp_path, "redacted", {"token": SECRET})
    second = observe(tmp_path, "redacted", {"token": SECRET})
    assert first["arguments"] == second["arguments"] == {"token": f"str[{len(SECRET)}]"}
    assert first["arguments_form"] == "shape"  # what the record really holds, not the setting
    assert capsys.readouterr().err.count("secrets redactor is not available") == 1


def test_a_failing_redactor_records_nothing_of_the_value(tmp_path, monkeypatch):
    def broken(value):
        raise RuntimeError("boom")

    monkeypatch.setattr(_audit, "_redactor", broken)
    rec = observe(tmp_path, "redacted", {"token": SECRET})
    assert rec["arguments"].startswith("[not recorded") and rec["arguments_form"] == "unrecorded"


def test_records_carry_the_subjects_roles(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl", Session("s1", "srv", "alice", roles=("dev", "ops")), key=None)
    log.record("message")
    log.close()
    assert json.loads((tmp_path / "a.jsonl").read_text())["roles"] == ["dev", "ops"]


def test_chain_field_names_in_a_record_cannot_collide(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl", key=None)
    log.record("message", n=5, h="x", seq=1)
    log.close()
    rec = json.loads((tmp_path / "a.jsonl").read_text())
    assert rec["x_n"] == 5 and rec["n"] == 0 and rec["x_h"] == "x"


# --- failure policy ----------------------------------------------------------------------------------------------------


class FailingWrites:
    """Makes os.write in the audit module fail with ENOSPC while ``failing`` is set."""

    def __init__(self, monkeypatch):
        import os

        self.failing = True
        self.real = os.write
        monkeypatch.setattr(_writer.os, "write", self)

    def __call__(self, fd, data):
        if self.failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.real(fd, data)


def test_block_policy_raises_and_records_the_gap_once_writable(tmp_path, monkeypatch, capsys):
    path = tmp_path / "a.jsonl"
    writes = FailingWrites(monkeypatch)
    log = AuditLog(path, Session("s1", "srv"), AuditSettings(on_failure="block"), key=None)
    log.record("session-start")
    log.record("message", id=1)
    with pytest.raises(AuditError, match="No space left"):
        log.flush()
    assert "refusing traffic" in capsys.readouterr().err
    log.record("message", id=2)
    with pytest.raises(AuditError):
        log.flush()
    writes.failing = False
    log.record("message", id=3)
    log.record("session-end")
    log.close()
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["event"] for r in recs] == ["session-start", "audit-gap", "message", "session-end"]
    assert recs[1]["lost"] == 2 and recs[1]["on_failure"] == "block" and "No space" in recs[1]["error"]
    assert [r["seq"] for r in recs] == [0, 1, 2, 3]
    assert verify([path], None, state_of=gone).exit_code == 0
    assert "writable again" in capsys.readouterr().err


def test_warn_policy_continues_and_warns_loudly(tmp_path, monkeypatch, capsys):
    path = tmp_path / "a.jsonl"
    writes = FailingWrites(monkeypatch)
    log = AuditLog(path, Session("s1", "srv"), AuditSettings(on_failure="warn"), key=None)
    log.record("session-start")
    log.flush()  # no exception
    err = capsys.readouterr().err
    assert "WARNING" in err and "UNAUDITED" in err
    writes.failing = False
    log.record("session-end")
    log.close()
    assert [json.loads(x)["event"] for x in path.read_text().splitlines()] == ["session-start", "session-end"]


def test_unopenable_log_fails_at_flush_not_at_start(tmp_path):
    path = tmp_path / "dir-not-file"
    path.mkdir()
    log = AuditLog(path, Session("s1", "srv"), key=None)
    assert log.failed and "Is a directory" in log.failed
    log.record("session-start")
    with pytest.raises(AuditError):
        log.flush()
    log.close()


# --- settings ------------------------------------------------------------------------------------------------------------


def test_audit_section_parses_every_key():
    s = parse_config(
        {"audit": {"path": "/x.jsonl", "record_arguments": "shape", "max_argument_chars": 100, "on_failure": "warn", "rotate_size": "10MB", "key_file": "~/k"}}
    )["audit"]
    assert (s.path, s.record_arguments, s.max_argument_chars, s.on_failure, s.rotate_size, s.key_file) == (
        "/x.jsonl", "shape", 100, "warn", 10 * 1024 * 1024, "~/k",
    )  # fmt: skip


@pytest.mark.parametrize(
    "section, message",
    [
        ({"on_failure": "ignore"}, "audit.on_failure: must be one of block, warn"),
        ({"record_arguments": "all"}, "audit.record_arguments: must be one of none, shape, redacted, full"),
        ({"rotate_size": "lots"}, "audit.rotate_size: expected a size"),
        ({"rotate_size": 1000}, "audit.rotate_size: must be 0 (never rotate) or at least"),
        ({"rotate": 1}, "audit.rotate: unknown key"),
    ],
)
def test_audit_section_errors_name_the_key(section, message):
    with pytest.raises(ConfigError) as exc:
        parse_config({"audit": section})
    assert message in str(exc.value)


@pytest.mark.parametrize("text, size", [("64MB", 64 << 20), ("512KiB", 512 << 10), ("1g", 1 << 30), (0, 0), (70000, 70000)])
def test_parse_size(text, size):
    assert parse_size(text) == size


# --- many writers ----------------------------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import random, sys
    from mcpwrap._audit.writer import AuditLog, AuditSettings
    from mcpwrap._message import Session
    path, name, count, rotate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    log = AuditLog(path, Session(name, "server-" + name, "load"), AuditSettings(rotate_size=rotate), key=b"concurrency-test-key")
    rng = random.Random(name)
    log.record("session-start")
    for i in range(count - 2):
        log.record("message", direction="c2s", kind="notification", method="notifications/progress", action="pass", i=i, pad="x" * rng.randrange(400))
        if rng.random() < 0.3:
            log.flush()
    log.record("session-end", exit_code=0)
    log.close()
    """
)


@pytest.mark.parametrize("rotate", [0, 512 * 1024], ids=["one-file", "rotating"])
def test_eight_processes_append_concurrently_without_torn_lines(tmp_path, rotate):
    path = tmp_path / "audit.jsonl"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{i}", "5000", str(rotate)])
        for i in range(8)
    ]  # fmt: skip
    assert [p.wait(timeout=300) for p in procs] == [0] * 8
    from mcpwrap._audit.files import log_files

    files = log_files(path)
    records = []
    for f in files:
        data = f.read_bytes()
        assert data.endswith(b"\n")
        for line in data.splitlines():
            records.append(json.loads(line))  # a torn line would not parse
    assert len(records) == 8 * 5000 + (len(files) - 1)  # + one log-rotated record per rotation
    assert (len(files) > 1) == bool(rotate)
    report = verify(files, b"concurrency-test-key", state_of=gone)
    assert report.exit_code == 0, report.as_dict()["problems"][:3]
    assert report.sessions == 8 and report.ended == 8


def test_a_policy_reload_changes_the_failure_policy(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl", Session("s1", "srv"), AuditSettings(on_failure="block"), key=None)
    audit_interceptor(log, parse_config({"audit": {"on_failure": "warn", "rotate_size": "1MB"}})["audit"])
    assert (log.on_failure, log.rotate_bytes) == ("warn", 1 << 20)
    log.close()


def audit_interceptor(log: AuditLog, settings: AuditSettings) -> AuditInterceptor:
    icpt = AuditInterceptor(ChainContext(log.session, log), log)
    icpt.configure(settings)
    return icpt
