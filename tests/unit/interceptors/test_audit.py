"""The audit writer with the real secrets redactor: records never hold a secret the redactor removes."""

from __future__ import annotations

import importlib.util
import json

from factories import session, tool_call
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._audit.writer import AuditLog, AuditSettings
from mcpwrap._chain import ChainContext, Outcome
from mcpwrap._message import Action, Verdict
from mcpwrap.interceptors import audit as _audit
from mcpwrap.interceptors.audit import AuditInterceptor

AWS = "AKIAZ7QW3ERT5YUI2OPA"
GITHUB = "ghp_Zq8Xw2Lk9Pm4Rt6Vb1Nc3Hy7Ju5Gf0Ds2Ea4"


def test_the_secrets_redactor_is_present():
    assert importlib.util.find_spec("mcpwrap.detect.redact") is not None


def test_real_redactor_keeps_secrets_out_of_records(tmp_path, monkeypatch):
    monkeypatch.setattr(_audit, "_redactor", None, raising=False)  # look the real one up
    sess = session()
    log = AuditLog(tmp_path / "audit.jsonl", sess, AuditSettings(record_arguments="redacted"))
    msg = tool_call("deploy", {"aws": AWS, "note": f"use token {GITHUB} please", "n": 1}, sess=sess)
    verdict = Verdict.block(f"refusing to send {AWS}", rule="r", interceptor="policy")
    audit_interceptor(log, log.settings).observe(msg, Outcome(Action.BLOCK, verdict, [verdict]))
    log.close()
    text = (tmp_path / "audit.jsonl").read_text()
    assert AWS not in text and GITHUB not in text
    (record,) = [json.loads(line) for line in text.splitlines() if json.loads(line)["event"] == "message"]
    assert record["arguments"]["n"] == 1
    assert record["reason"].startswith("refusing to send ")
    assert record.get("redactions")


def test_line_separators_in_values_keep_one_record_per_line(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", session(), AuditSettings(record_arguments="full"))
    log.record("message", reason="a\u2028b\u2029c\x85d")
    log.close()
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["reason"] == "a\u2028b\u2029c\x85d"


def audit_interceptor(log: AuditLog, settings: AuditSettings) -> AuditInterceptor:
    icpt = AuditInterceptor(ChainContext(log.session, log), log)
    icpt.configure(settings)
    return icpt


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, limit=st.integers(min_value=16, max_value=200))
def test_the_fast_size_check_never_keeps_what_the_exact_one_cuts(value, limit):
    # The fast check may send a value to the exact path needlessly, never let an over-long one through uncut.
    exact = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
    if _audit._surely_fits(value, limit):
        assert exact <= limit


def test_a_long_argument_is_cut_and_says_so(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", session(), AuditSettings(record_arguments="full", max_argument_chars=32))
    fields: dict = {}
    kept = audit_interceptor(log, log.settings).argument_form({"big": 1e300, "s": "é" * 40}, fields)
    assert fields["arguments_form"] == "truncated" and kept.endswith("…") and len(kept) == 33
    fields = {}
    assert audit_interceptor(log, log.settings).argument_form({"n": 1e16}, fields) == {"n": 1e16}
    assert fields["arguments_form"] == "full"


def _recorded_arguments(tmp_path, monkeypatch, secrets_section: dict, arguments: dict) -> tuple[dict, int]:
    """Run a tools/call through secrets + audit; the record, and how often the audit redactor ran."""
    from content_factories import config

    from mcpwrap._chain import Chain
    from mcpwrap.detect.redact import redact_value
    from mcpwrap.interceptors.secrets import SecretsInterceptor

    calls = []

    def counting(value, kinds=None):
        calls.append(value)
        return redact_value(value, kinds)

    monkeypatch.setattr(_audit, "_redactor", counting, raising=False)
    sess = session()
    log = AuditLog(tmp_path / "audit.jsonl", sess, AuditSettings(record_arguments="redacted"))
    from factories import make_interceptor

    chain = Chain([make_interceptor(SecretsInterceptor, sess, config(secrets=secrets_section)["secrets"]), audit_interceptor(log, log.settings)])
    msg = tool_call("deploy", arguments, sess=sess)
    chain.observe(msg, chain.run(msg))
    log.close()
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    (record,) = [r for r in lines if r["event"] == "message"]
    return record, len(calls)


def test_arguments_the_secrets_scan_found_clean_are_recorded_without_a_second_scan(tmp_path, monkeypatch):
    record, scans = _recorded_arguments(tmp_path, monkeypatch, {}, {"message": "hello", "n": 1})
    assert record["arguments"] == {"message": "hello", "n": 1} and record["arguments_form"] == "redacted"
    assert scans == 0


def test_arguments_are_redacted_for_the_record_when_the_traffic_scan_did_not_read_them_all(tmp_path, monkeypatch):
    # A detector off for the traffic is still applied to the record: the audit redactor runs.
    record, scans = _recorded_arguments(tmp_path, monkeypatch, {"detectors": {"aws_access_key": "off"}}, {"key": AWS})
    assert scans == 1 and AWS not in json.dumps(record)
    # Arguments the traffic scan redacted: the record holds the redacted form, never the secret.
    (tmp_path / "again").mkdir()
    record, _ = _recorded_arguments(tmp_path / "again", monkeypatch, {}, {"key": AWS})
    assert AWS not in json.dumps(record)
