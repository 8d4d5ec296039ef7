"""`mcpwrap policy init | validate | test` (incl. scenarios and --replay), through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcpwrap._cli.app import app
from mcpwrap._errors import ConfigError
from mcpwrap._state.overrides import add_rule, load_rules

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mcpgw-format"
ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_validate_ok_summary_for_mcpgw_and_example():
    r = run("policy", "validate", str(FIXTURES / "demo-policy.yaml"))
    assert r.exit_code == 0
    assert "9 rules (3 allow, 6 deny), mode enforce, default deny" in r.output
    r = run("policy", "validate", str(ROOT / "policy.example.yaml"))
    assert r.exit_code == 0 and "rate limit exec:" in r.output


BAD = """version: v1
rules:
  - name: a
    action: allow
  - name: a
    action: deny
  - name: b
    action: allow
    match:
      toolz: [x]
rate_limits:
  - name: r
    per_second: fast
"""


def test_validate_reports_every_error_with_position(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    r = run("policy", "validate", str(f))
    assert r.exit_code == 1
    lines = r.output.strip().splitlines()
    assert lines[0] == f"{f}:5:11: rules.1.name: duplicate rule name 'a' (also rule 1)"
    assert lines[1].startswith(f"{f}:10:7: rules.2.match.toolz: unknown key 'toolz'")
    assert lines[2].startswith(f"{f}:13:17: rate_limits.0.per_second: expected number")
    assert lines[-1] == f"3 errors in {f}"
    j = json.loads(run("policy", "validate", str(f), "--json").output)
    assert j["ok"] is False and [(e["line"], e["column"]) for e in j["errors"]] == [(5, 11), (10, 7), (13, 17)]


def test_validate_yaml_syntax_and_missing_file(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("rules: [\n")
    r = run("policy", "validate", str(f))
    assert r.exit_code == 1 and "not valid YAML" in r.output
    assert run("policy", "validate", str(tmp_path / "none.yaml")).exit_code == 1


def test_validate_warns_when_clients_cannot_connect(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("rules:\n  - name: only-echo\n    action: allow\n    match: {tools: [echo]}\n")
    r = run("policy", "validate", str(f))
    assert r.exit_code == 0 and "warning: initialize is denied" in r.output


def test_test_single_call_prints_rule_and_why():
    r = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), "--tool", "read_file", "--args", '{"path": "file:///etc/../etc/shadow"}', "--expect", "deny")
    assert r.exit_code == 0, r.output
    assert "deny by rule 'block-sensitive-reads'" in r.output
    assert "argument 'path' = '/etc/shadow' matched glob '/etc/*'" in r.output
    r = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), "--tool", "echo", "--expect", "deny", "--subject", "x")
    assert r.exit_code == 1 and "FAIL" in r.output and "1 failed" in r.output
    r = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), "--tool", "echo", "--args", "{not json")
    assert r.exit_code == 2


def test_test_json_output():
    r = run("policy", "test", str(FIXTURES / "admin-policy.yaml"), "--tool", "exec_x", "--args", '{"command":"sudo su"}', "--subject", "admin-1", "--json")
    out = json.loads(r.output)["results"][0]
    assert (out["action"], out["rule"], out["subject"]) == ("allow", "admin-full-access", "admin-1")


def test_scenarios_in_mcpgw_format(tmp_path):
    (tmp_path / "sc.yaml").write_text(
        "scenarios:\n"
        "  - name: exec denied\n    method: tools/call\n"
        '    params: \'{"name":"exec_command","arguments":{"command":"sudo id"}}\'\n    subject: bob\n    expect: deny\n'
        '  - name: echo allowed\n    method: tools/call\n    params: \'{"name":"echo"}\'\n    expect: allow\n'
        "  - name: mcpwrap form\n    tool: read_file\n    arguments: {path: /etc/hosts}\n    expect: allow\n"
    )
    r = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), str(tmp_path / "sc.yaml"))
    assert r.exit_code == 1  # the third expectation is wrong on purpose
    assert "PASS exec denied" in r.output and "PASS echo allowed" in r.output and "FAIL mcpwrap form" in r.output
    assert "2 passed, 1 failed" in r.output


def _record(**kw) -> str:
    base = {"ts": "2026-01-01T00:00:00Z", "event": "message", "session": "s1", "server": "fs", "subject": "bob", "direction": "c2s", "kind": "request"}
    return json.dumps({**base, **kw})


def test_replay_reports_changes_and_undecidable(tmp_path):
    log = tmp_path / "audit.jsonl"
    log.write_text(
        "\n".join(
            [
                json.dumps({"event": "tool-risk", "session": "s1", "tool": "wipe", "risk": "destructive"}),
                _record(id=1, method="initialize", action="pass"),
                _record(id=2, method="tools/call", tool="echo", action="pass", arguments={"message": "str[2]"}, arguments_form="shape"),
                _record(id=3, method="tools/call", tool="read_file", action="pass", arguments={"path": "str[11]"}, arguments_form="shape"),
                _record(id=4, method="tools/call", tool="read_file", action="pass", arguments={"path": "/etc/passwd"}, arguments_form="full"),
                _record(id=5, method="tools/call", tool="exec_command", action="pass", arguments={"cwd": "str[1]"}, arguments_form="shape"),
                _record(id=6, method="tools/call", tool="wipe", action="block", interceptor="policy", rule="old-rule", details={"decision": "deny"}),
                _record(id=7, method="tools/call", tool="list_directory", action="pass", arguments={}, arguments_form="shape"),
                _record(kind="result", id=2, method="tools/call", action="pass"),
                "not json",
            ]
        )
        + "\n"
    )
    r = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), "--replay", str(log), "--json")
    report = json.loads(r.output)
    assert (report["replayed"], report["skipped"], report["bad_lines"]) == (7, 2, 1)
    changes = {c["line"]: (c["recorded"], c["new"], c["rule"]) for c in report["changes"]}
    assert changes == {5: ("allow", "deny", "block-sensitive-reads"), 8: ("allow", "deny", "deny-all")}
    # read_file with only the shape of its path: the decision depends on the value, which the record lacks.
    assert [u["line"] for u in report["undecidable_records"]] == [4]
    assert report["undecidable_records"][0]["possible"] == ["allow", "deny"]
    # initialize; echo; exec_command without a `command` argument (the shape shows it absent); wipe (denied before and after)
    assert report["same"] == 4
    text = run("policy", "test", str(FIXTURES / "demo-policy.yaml"), "--replay", str(log)).output
    assert "replayed 7 recorded request(s)/notification(s): 4 unchanged, 2 changed, 1 undecidable" in text
    assert "2  allow → deny" in text


def test_init_writes_default_and_refuses_to_clobber(mcpwrap_home):
    r = run("policy", "init")
    assert r.exit_code == 0
    target = mcpwrap_home / "policy.yaml"
    assert target.read_text() == (ROOT / "mcpwrap" / "default_policy.yaml").read_text()
    target.write_text("mode: audit\n")
    assert run("policy", "init").exit_code == 1
    assert run("policy", "init", "--force").exit_code == 0
    assert (mcpwrap_home / "policy.yaml.bak").read_text() == "mode: audit\n"
    assert run("policy", "validate", str(target)).exit_code == 0


def test_overrides_are_evaluated_first_and_validated(mcpwrap_home, tmp_path):
    add_rule(
        {"name": "always-allow-exec-ls", "action": "allow", "match": {"methods": ["tools/call"], "tools": ["exec_command"], "arguments": {"command": ["ls"]}}}
    )
    add_rule(
        {
            "name": "always-allow-exec-ls",
            "action": "allow",
            "match": {"methods": ["tools/call"], "tools": ["exec_command"], "arguments": {"command": ["ls", "pwd"]}},
        }
    )
    rules = load_rules()
    assert [r.name for r in rules] == ["always-allow-exec-ls"]  # replaced by name, not duplicated
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - name: deny-all\n    action: deny\n")
    r = run("policy", "test", str(policy), "--tool", "exec_command", "--args", '{"command": "pwd"}')
    assert "allow by rule 'always-allow-exec-ls'" in r.output
    r = run("policy", "validate", str(policy))
    assert "1 override rule(s)" in r.output
    (mcpwrap_home / "policy.overrides.yaml").write_text("rules:\n  - name: x\n    action: perhaps\n")
    r = run("policy", "validate", str(policy))
    assert r.exit_code == 1 and "policy.overrides.yaml:3:13: rules.0.action" in r.output
    with pytest.raises(ConfigError):
        add_rule({"name": "bad", "action": "allow", "match": {"nope": 1}})
