"""What `policy validate | test` compute, as data, without the command line."""

from __future__ import annotations

from mcpwrap._config import sections_by_key
from mcpwrap._paths import overrides_path
from mcpwrap._policy.check import evaluate_call, validate_file
from mcpwrap._policy.engine import Call
from mcpwrap._policy.sections import POLICY_SECTIONS
from mcpwrap.interceptors import SECTIONS


def test_a_file_is_checked_against_the_sections_it_is_given(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("mode: audit\nsecrets:\n  enabled: false\n")
    assert validate_file(f, SECTIONS).ok
    only_policy = validate_file(f, sections_by_key(POLICY_SECTIONS))
    assert [(e.line, e.message.split(" (")[0]) for e in only_policy.errors] == [(2, "unknown key 'secrets'")]


def test_errors_of_the_policy_file_and_of_the_overrides_file_are_reported_together(tmp_path, mcpwrap_home):
    f = tmp_path / "p.yaml"
    f.write_text("rules:\n  - name: a\n    action: maybe\n  - name: b\n    action: allow\n    match: {toolz: [x]}\n")
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text("rules:\n  - name: o\n    action: sometimes\n")
    v = validate_file(f, SECTIONS)
    assert not v.ok and v.policy is None
    assert [(e.file, e.line) for e in v.errors] == [(str(f), 3), (str(f), 6), (str(overrides_path()), 3)]


def test_a_valid_file_compiles_with_the_overrides_first_and_is_summarised(tmp_path, mcpwrap_home):
    f = tmp_path / "p.yaml"
    f.write_text("rules:\n  - name: deny-all\n    action: deny\n  - name: never\n    action: allow\n")
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text("rules:\n  - name: echo\n    action: allow\n    match: {tools: [echo]}\n")
    v = validate_file(f, SECTIONS)
    assert v.ok and v.policy is not None
    assert [r.name for r in v.policy.rules] == ["echo", "deny-all", "never"]
    assert (v.summary["rules"], v.summary["overrides"], v.summary["overrides_file"]) == (2, 1, str(overrides_path()))
    assert any("'never' is never reached" in w for w in v.warnings)
    assert any("initialize is denied" in w for w in v.warnings)


def test_a_trial_call_is_classed_decided_and_explained(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("default_action: allow\nrules:\n  - name: no-exec\n    action: deny\n    match: {risk: [execute]}\n")
    policy = validate_file(f, SECTIONS).policy
    r = evaluate_call(policy, Call("tools/call", "run_shell", {}), subject="bob", expect="deny")
    assert (r.call.risk, r.decision.rule_name, r.passed) == ("execute", "no-exec", True)
    assert r.why == ["risk class 'execute'"]
    assert r.name == "tools/call run_shell"
