"""The one evaluation function: first match, default action, modes, undecided outcomes, tools/list filtering."""

from __future__ import annotations

import os

from policy_factories import DEMO, decide, make_policy

from mcpwrap._policy.engine import Call, policy_of
from mcpwrap._policy.readings import UNKNOWN, Unknown


def test_first_match_wins_and_default():
    assert decide(DEMO, Call("tools/call", "exec_command", {"command": "ls"}))[:2] == ("allow", "default-allow")
    assert decide(DEMO, Call("tools/call", "exec_command", {"command": "rm -rf /"}))[:2] == ("deny", "block-dangerous-exec")
    no_default = {"rules": [{"name": "only-echo", "action": "allow", "match": {"tools": ["echo"]}}]}
    assert decide(no_default, Call("tools/call", "echo", {}))[:2] == ("allow", "only-echo")
    assert decide(no_default, Call("tools/call", "other", {}))[:2] == ("deny", "(default)")  # rules present: deny
    assert decide({**no_default, "default_action": "allow"}, Call("tools/call", "other", {}))[0] == "allow"
    assert decide({}, Call("tools/call", "anything", {}))[0] == "allow"  # no rules section: no admission control


def test_mode_audit_per_file_and_per_rule():
    doc = {"mode": "audit", "rules": [
        {"name": "a", "action": "deny", "match": {"tools": ["a"]}},
        {"name": "b", "action": "deny", "mode": "enforce", "match": {"tools": ["b"]}},
    ]}
    p = make_policy(doc).view("s", "u")
    da, db, dd = (p.decide(Call("tools/call", t, {})) for t in ("a", "b", "c"))
    assert (da.action, da.enforce, da.effective) == ("deny", False, "allow")
    assert (db.action, db.enforce, db.effective) == ("deny", True, "deny")
    assert (dd.rule_name, dd.enforce) == ("(default)", False)


def test_unknown_arguments_are_undecided_only_where_they_matter():
    v = make_policy(DEMO).view("s", "u")
    assert v.decide(Call("tools/call", "echo", UNKNOWN)).decided  # no argument rule on the way
    d = v.decide(Call("tools/call", "exec_command", UNKNOWN))
    assert not d.decided and d.outcomes() == {("deny", True), ("allow", True)}
    # The audit shape says which keys exist: a rule on an absent key is decidably not matched.
    assert v.decide(Call("tools/call", "exec_command", Unknown({"cwd": "str[4]"}))).decided
    assert not v.decide(Call("tools/call", "exec_command", Unknown({"command": "str[4]"}))).decided
    both_deny = {"rules": [{"name": "d1", "action": "deny", "match": {"arguments": {"a": ["x"]}}}]}  # default deny too
    assert make_policy(both_deny).view("s", "u").decide(Call("tools/call", "t", UNKNOWN)).decided


def test_tools_list_filtering_agrees_with_tools_call():
    """The filter keeps a tool iff some call of it could be admitted — by the same decide()."""
    doc = {
        "subjects": {"alice": ["admin"]},
        "rules": [
            {"name": "admin-exec", "action": "allow", "match": {"tools": ["exec_*"], "roles": ["admin"]}},
            {"name": "no-exec", "action": "deny", "match": {"tools": ["exec_*"]}},
            {"name": "no-rm", "action": "deny", "match": {"tools": ["shell"], "arguments": {"cmd": ["*rm*"]}}},
            {"name": "watch-delete", "action": "deny", "mode": "audit", "match": {"tools": ["delete_*"]}},
            {"name": "hold-send", "action": "approve", "match": {"tools": ["send_*"]}},
            {"name": "rest", "action": "allow", "match": {"tools": ["echo", "shell", "exec_*", "delete_*", "send_*"]}},
        ],
    }
    tools = ["echo", "exec_cmd", "shell", "delete_x", "send_mail", "unknown_tool"]
    policy = make_policy(doc)
    for subject in ("alice", "bob"):
        view = policy.view("s", subject)
        for tool in tools:
            listed = view.decide(Call("tools/call", tool, UNKNOWN))
            kept = not all(a == "deny" and e for a, e in listed.outcomes())
            called = view.decide(Call("tools/call", tool, {}))
            assert kept == (called.effective != "deny"), (subject, tool)
    bob = policy.view("s", "bob")
    assert bob.decide(Call("tools/call", "exec_cmd", UNKNOWN)).outcomes() == {("deny", True)}
    assert policy.view("s", "alice").decide(Call("tools/call", "exec_cmd", UNKNOWN)).outcomes() == {("allow", True)}


def test_builtin_default_policy_allows_ordinary_traffic_and_denies_keys():
    from mcpwrap.interceptors import load_policy as load_config

    config = load_config(None)
    assert config.source is None
    view = policy_of(config).view("s", "u")
    assert view.decide(Call("tools/call", "read_file", {"path": "/tmp/a.txt"})).action == "allow"
    assert view.decide(Call("initialize", None, {})).action == "allow"
    assert view.decide(Call("tools/call", "read_file", {"path": "~/.ssh/id_ed25519"})).action == "deny"
    assert view.decide(Call("resources/read", None, {"uri": "file:///root/.aws/credentials"})).action == "deny"
    assert view.decide(Call("tools/call", "fetch", {"url": "http://169.254.169.254/latest/meta-data/"})).action == "deny"


def test_example_policy_denies_what_the_attack_demo_relies_on(monkeypatch, tmp_path):
    from mcpwrap.interceptors import load_policy as load_config

    monkeypatch.setenv("HOME", str(tmp_path))
    example = os.path.join(os.path.dirname(__file__), "..", "..", "..", "policy.example.yaml")
    view = policy_of(load_config(example)).view("s", "u")
    assert view.decide(Call("tools/call", "exec_command", {"command": "rm -rf ~"})).rule_name == "block-dangerous-exec"
    assert view.decide(Call("tools/call", "read_file", {"path": "~/.ssh/id_rsa"})).rule_name == "block-sensitive-reads"
    assert view.decide(Call("tools/call", "read_file", {"path": f"{tmp_path}/.ssh/id_rsa"})).rule_name == "block-sensitive-reads"
    assert view.decide(Call("tools/call", "read_file", {"path": "/tmp/readme.md"})).action == "allow"
