"""Matching semantics of policy rules: table-driven, with an evasion table that must always hit the rule."""

from __future__ import annotations

import json
import os

import pytest

from mcpwrap.interceptors import parse_policy as parse_config
from mcpwrap._errors import ConfigError
from mcpwrap._policy.engine import UNKNOWN, Call, Policy, Unknown, policy_of


def make_policy(doc: dict, overrides=()) -> Policy:
    return policy_of(parse_config(doc), overrides=overrides)


def decide(doc: dict, call: Call, *, server: str = "srv", subject: str = "bob", roles: tuple = ()) -> tuple[str, str, bool]:
    d = make_policy(doc).view(server, subject, roles).decide(call)
    return d.action, d.rule_name, d.decided


DEMO = {
    "version": "v1",
    "mode": "enforce",
    "rules": [
        {"name": "block-dangerous-exec", "action": "deny",
         "match": {"methods": ["tools/call"], "tools": ["exec_command"], "arguments": {"command": ["*rm -rf*", "*sudo*"]}}},
        {"name": "block-sensitive-reads", "action": "deny",
         "match": {"methods": ["tools/call"], "tools": ["read_file"], "arguments": {"path": ["/etc/*", "*.env", "*/.ssh/*"]}}},
        {"name": "default-allow", "action": "allow", "match": {"methods": ["*"]}},
    ],
}


def test_first_match_wins_and_default():
    assert decide(DEMO, Call("tools/call", "exec_command", {"command": "ls"}))[:2] == ("allow", "default-allow")
    assert decide(DEMO, Call("tools/call", "exec_command", {"command": "rm -rf /"}))[:2] == ("deny", "block-dangerous-exec")
    no_default = {"rules": [{"name": "only-echo", "action": "allow", "match": {"tools": ["echo"]}}]}
    assert decide(no_default, Call("tools/call", "echo", {}))[:2] == ("allow", "only-echo")
    assert decide(no_default, Call("tools/call", "other", {}))[:2] == ("deny", "(default)")  # rules present: deny
    assert decide({**no_default, "default_action": "allow"}, Call("tools/call", "other", {}))[0] == "allow"
    assert decide({}, Call("tools/call", "anything", {}))[0] == "allow"  # no rules section: no admission control


# Each row: an argument value that must be denied by DEMO. Spelling tricks that a person, a model, a path
# resolver or a shell would read as the same thing.
EVASIONS = [
    ("exec_command", {"command": "RM -RF /"}),  # case variant
    ("EXEC_COMMAND", {"command": "rm -rf /"}),  # tool name case
    ("Exec_Command", {"command": "sudo ls"}),
    ("exec_command", {"command": "ｒｍ －ｒｆ /"}),  # fullwidth look-alikes (NFKC)
    ("exec_command", {"command": "r\u200bm -r\u200df /"}),  # zero-width characters
    ("exec_command", {"command": "s\u00adudo ls"}),  # soft hyphen
    ("exec_command", {"command": "\u202erm -rf /"}),  # bidi override
    ("exec_command", {"command": "𝐬𝐮𝐝𝐨 reboot"}),  # mathematical bold (NFKC)
    ("exec_command", {"command": "x" * 10_000 + " rm -rf /"}),  # long value: no length cutoff
    ("exec_command", {"command": ["bash", "-c", "rm -rf /"]}),  # array: each element checked
    ("exec_command", {"command": {"argv": ["sudo", "reboot"]}}),  # nested object
    ("read_file", {"path": "/etc/passwd"}),
    ("read_file", {"path": "/etc/../etc/passwd"}),  # dot-dot
    ("read_file", {"path": "/tmp/../etc/shadow"}),
    ("read_file", {"path": "//etc//passwd"}),  # doubled slashes
    ("read_file", {"path": "/./etc/./passwd"}),  # dot segments
    ("read_file", {"path": "file:///etc/passwd"}),  # file URI
    ("read_file", {"path": "file://localhost/etc/passwd"}),
    ("read_file", {"path": "file:///%65tc/passwd"}),  # percent-encoded URI
    ("read_file", {"path": "\\etc\\passwd"}),  # backslashes
    ("read_file", {"path": "/etc/passwd/"}),  # trailing slash
    ("read_file", {"path": "~/.ssh/id_rsa"}),  # home
    ("read_file", {"path": "/home/u/.ssh/../.ssh/id_rsa"}),
    ("read_file", {"path": "/srv/app/.ENV"}),  # case of an extension
    ("read_file", {"path": "／etc／passwd"}),  # fullwidth solidus
    ("read_file", {"path": "/e\u200btc/passwd"}),  # invisible inside a path
    ("read_file", {"path": ["/tmp/ok", "/etc/passwd"]}),  # one bad element among good ones
    ("Read_File", {"path": "/ETC/passwd"}),
]


@pytest.mark.parametrize("tool,args", EVASIONS, ids=[f"{i}-{t}" for i, (t, _) in enumerate(EVASIONS)])
def test_evasions_hit_the_deny_rule(tool, args):
    action, rule, decided = decide(DEMO, Call("tools/call", tool, args))
    assert (action, decided) == ("deny", True), (tool, args, rule)
    assert rule.startswith("block-")


def test_escapes_are_decoded_before_matching():
    # What the server executes is the decoded string: \u escapes and \/ must not hide a value.
    line = r'{"command": "\u0072\u006d -rf \/"}'
    args = json.loads(line)
    assert decide(DEMO, Call("tools/call", "exec_command", args))[0] == "deny"


def test_relative_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    depth = len(tmp_path.parts) - 1
    sneaky = "../" * depth + "etc/passwd"
    assert decide(DEMO, Call("tools/call", "read_file", {"path": sneaky}))[0] == "deny"
    assert decide(DEMO, Call("tools/call", "read_file", {"path": "notes/today.md"}))[0] == "allow"


def test_home_in_a_pattern_means_the_home_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    doc = {"rules": [{"name": "no-keys", "action": "deny", "match": {"arguments": {"path": ["~/.ssh/*"]}}}], "default_action": "allow"}
    assert decide(doc, Call("tools/call", "read", {"path": f"{tmp_path}/.ssh/id_rsa"}))[0] == "deny"
    assert decide(doc, Call("tools/call", "read", {"path": "~/.ssh/id_rsa"}))[0] == "deny"
    assert decide(doc, Call("tools/call", "read", {"path": f"file://{tmp_path}/x/../.ssh/id_rsa"}))[0] == "deny"
    assert decide(doc, Call("tools/call", "read", {"path": f"{tmp_path}/notes"}))[0] == "allow"


ALLOW_TMP = {
    "rules": [{"name": "tmp-only", "action": "allow", "match": {"tools": ["read_file"], "arguments": {"path": ["/tmp/*"]}}}],
}


@pytest.mark.parametrize(
    "path,expected",
    [
        ("/tmp/notes.txt", "allow"),
        ("/tmp/../etc/passwd", "deny"),  # allow sees the normalised path, not the prefix
        ("/tmp/\u200b../etc/passwd", "deny"),  # a spelling that reads as traversal never gets allowed
        ("/TMP/notes.txt", "deny"),  # allow rules compare exactly
        ("／tmp／notes.txt", "deny"),  # a look-alike of an allowed path is not that path
    ],
)
def test_allow_rules_need_every_reading_to_match(path, expected):
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", {"path": path}))[0] == expected


def test_allow_rule_with_array_needs_every_element():
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", {"path": ["/tmp/a", "/tmp/b"]}))[0] == "allow"
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", {"path": ["/tmp/a", "/etc/passwd"]}))[0] == "deny"


def test_missing_argument_does_not_match():
    assert decide(DEMO, Call("tools/call", "exec_command", {"cmd": "rm -rf /"}))[0] == "allow"
    assert decide(DEMO, Call("tools/call", "exec_command", None))[0] == "allow"


def test_dot_paths_and_wildcard_argument():
    doc = {
        "default_action": "allow",
        "rules": [
            {"name": "nested", "action": "deny", "match": {"arguments": {"options.target": ["prod*"]}}},
            {"name": "edits", "action": "deny", "match": {"arguments": {"edits.path": ["/etc/*"]}}},
            {"name": "anywhere", "action": "deny", "match": {"arguments": {"*": ["*169.254.169.254*"]}}},
        ],
    }
    assert decide(doc, Call("tools/call", "t", {"options": {"target": "Production"}}))[1] == "nested"
    assert decide(doc, Call("tools/call", "t", {"options.target": "prod-eu"}))[1] == "nested"  # literal dotted key
    assert decide(doc, Call("tools/call", "t", {"edits": [{"path": "/tmp/a"}, {"path": "/etc/hosts"}]}))[1] == "edits"
    assert decide(doc, Call("tools/call", "t", {"a": {"b": ["x", {"url": "http://169.254.169.254/"}]}}))[1] == "anywhere"
    assert decide(doc, Call("tools/call", "t", {"options": {"target": "staging"}}))[1] == "(default)"


def test_argument_patterns_are_re2_and_searched():
    doc = {
        "default_action": "allow",
        "rules": [{"name": "sql", "action": "deny", "match": {"argument_patterns": {"query": [r"\bdrop\s+table\b"]}}}],
    }
    assert decide(doc, Call("tools/call", "sql_query", {"query": "select 1; DROP  TABLE users"}))[0] == "deny"
    assert decide(doc, Call("tools/call", "sql_query", {"query": "select dropped_tables from t"}))[0] == "allow"


def test_hostile_regex_is_rejected_and_hostile_input_is_linear():
    with pytest.raises(ConfigError) as exc:
        parse_config({"rules": [{"name": "r", "action": "deny", "match": {"argument_patterns": {"a": [r"(a)\1"]}}}]})
    assert "invalid regular expression" in str(exc.value)
    doc = {"default_action": "allow", "rules": [{"name": "r", "action": "deny", "match": {"argument_patterns": {"a": ["(a+)+$"]}}}]}
    # With a backtracking engine this input would not finish; RE2 answers at once.
    assert decide(doc, Call("tools/call", "t", {"a": "a" * 50_000 + "!"}))[0] == "allow"
    assert decide(doc, Call("tools/call", "t", {"a": "a" * 50_000}))[0] == "deny"


def test_numbers_booleans_and_null_are_compared_as_text():
    doc = {"default_action": "allow", "rules": [{"name": "n", "action": "deny", "match": {"arguments": {"n": ["3"], "b": ["true"]}}}]}
    assert decide(doc, Call("tools/call", "t", {"n": 3.0, "b": True}))[0] == "deny"
    assert decide(doc, Call("tools/call", "t", {"n": 4, "b": True}))[0] == "allow"


def test_subjects_roles_servers_and_direction():
    doc = {
        "subjects": {"alice": ["admin"], "ci-*": ["ci"]},
        "rules": [
            {"name": "admins", "action": "allow", "match": {"roles": ["admin"]}},
            {"name": "ci-on-build", "action": "allow", "match": {"roles": ["ci"], "servers": ["build-*"]}},
            {"name": "no-sampling", "action": "deny", "match": {"methods": ["sampling/*"], "direction": "s2c"}},
            {"name": "bob-reads", "action": "allow", "match": {"subjects": ["bob"], "tools": ["read_*"]}},
            {"name": "rest", "action": "allow", "match": {"direction": "c2s", "methods": ["initialize", "tools/list"]}},
        ],
    }
    assert decide(doc, Call("tools/call", "rm", {}), subject="alice")[1] == "admins"
    assert decide(doc, Call("tools/call", "rm", {}), subject="carol", roles=("admin",))[1] == "admins"  # --role
    assert decide(doc, Call("tools/call", "rm", {}), subject="Alice")[1] == "(default)"  # identities: exact case
    assert decide(doc, Call("tools/call", "x", {}), subject="ci-7", server="build-1")[1] == "ci-on-build"
    assert decide(doc, Call("tools/call", "x", {}), subject="ci-7", server="prod")[1] == "(default)"
    assert decide(doc, Call("sampling/createMessage", None, {}, "s2c"))[:2] == ("deny", "no-sampling")
    assert decide(doc, Call("tools/call", "read_file", {}), subject="bob")[1] == "bob-reads"
    assert decide(doc, Call("tools/call", "read_file", {}), subject="")[1] == "(default)"  # empty subject never matches
    assert decide(doc, Call("tools/list", None, {}, "s2c"))[1] == "(default)"


def test_case_sensitive_rule():
    doc = {"default_action": "allow", "rules": [{"name": "exact", "action": "deny", "case_sensitive": True, "match": {"tools": ["Danger"]}}]}
    assert decide(doc, Call("tools/call", "Danger", {}))[0] == "deny"
    assert decide(doc, Call("tools/call", "danger", {}))[0] == "allow"


def test_risk_condition():
    doc = {"default_action": "allow", "rules": [{"name": "no-exec", "action": "deny", "match": {"risk": ["execute", "destructive"]}}]}
    assert decide(doc, Call("tools/call", "x", {}, risk="execute"))[0] == "deny"
    assert decide(doc, Call("tools/call", "x", {}, risk="read"))[0] == "allow"
    assert decide(doc, Call("tools/call", "x", {}, risk="?"))[2] is False  # unknown risk: undecided


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


LOADER_ERRORS = [
    ({"rules": [{"name": "a", "action": "allow"}, {"name": "a", "action": "deny"}]}, "duplicate rule name"),
    ({"rules": [{"name": "a", "action": "block"}]}, "must be one of allow, deny, approve"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tool": ["x"]}}]}, "unknown key 'tool'"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tools": {"x": 1}}}]}, "expected list, got mapping"),
    ({"rules": [{"name": "a", "action": "allow", "match": {"tools": [["x"]]}}]}, "expected a string, got list"),
    ({"rules": [{"name": "a", "action": "allow", "extra": 1}]}, "unknown key 'extra'"),
    ({"rules": [{"action": "allow"}]}, "needs a name"),
    ({"rules": [{"name": "a", "action": "allow", "timeout": 3}]}, "applies to action: approve only"),
    ({"rules": [{"name": "a", "action": "approve", "channels": ["pigeon"]}]}, "must be one of elicitation"),
    ({"rules": [{"name": "a", "action": "deny", "match": {"risk": ["scary"]}}]}, "risk must be one of"),
    ({"rules": [{"name": "a", "action": "deny", "match": {"direction": "up"}}]}, "direction must be"),
    ({"version": "v2"}, "unsupported version"),
    ({"mode": "strict"}, "must be one of enforce, audit"),
    ({"default_action": "approve"}, "must be one of allow, deny"),
    ({"subjects": {"alice": 7}}, "expected list, got integer"),
    ({"rate_limits": [{"name": "x"}]}, "needs per_second"),
    ({"rate_limits": [{"name": "x", "per_second": -1}]}, "greater than 0"),
    ({"rate_limits": [{"name": "x", "concurrent": 1.5}]}, "whole number"),
]


@pytest.mark.parametrize("doc,message", LOADER_ERRORS)
def test_loader_is_strict(doc, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(doc)
    assert message in str(exc.value)


def test_errors_carry_line_and_column(tmp_path):
    from mcpwrap.interceptors import load_policy as load_config

    f = tmp_path / "p.yaml"
    f.write_text("version: v1\nrules:\n  - name: a\n    action: allow\n    match:\n      toolz: [x]\n")
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert (exc.value.line, exc.value.column) == (6, 7)
    assert str(exc.value).startswith(f"{f}:6:7: rules.0.match.toolz: unknown key")


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


# --- many rules on one argument are matched with one RE2 set: it must decide exactly as one-by-one ----------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import mcpwrap._policy.engine as policy_module  # noqa: E402

GLOBS = st.sampled_from(["/etc/*", "*.pem", "*rm -rf*", "/tmp/*", "*/.ssh/*", "a?c", "*", "x*y*z", "DROP*"])
VALUES = st.sampled_from(["/etc/passwd", "/tmp/a.pem", "rm -rf /", "/tmp/ok", "~/.ssh/id_rsa", "abc", "xAyBz", "drop table", "", "/TMP/x"])
RULES = st.lists(
    st.tuples(st.sampled_from(["allow", "deny", "approve"]), st.sampled_from(["path", "cmd", "*"]), st.lists(GLOBS, min_size=1, max_size=3), st.booleans()),
    min_size=8, max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(RULES, st.dictionaries(st.sampled_from(["path", "cmd"]), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=2))
def test_batched_matching_agrees_with_one_by_one(rules, args):
    doc = {"rules": [
        {"name": f"r{i}", "action": action, "match": {"tools": ["t"], ("argument_patterns" if regex else "arguments"): {key: [g.replace("*", ".*").replace("?", ".") if regex else g for g in globs]}}}
        for i, (action, key, globs, regex) in enumerate(rules)
    ]}
    call = Call("tools/call", "t", args)
    saved = policy_module.BATCH_MIN_CONDITIONS
    try:
        policy_module.BATCH_MIN_CONDITIONS = 10**9  # no RE2 set: one condition at a time
        single = make_policy(doc).view("s", "u").decide(call)
        # 1: every condition in a set (the hit-driven fast path); 4: some in sets, some not (the mixed walk)
        for threshold in (1, 4):
            policy_module.BATCH_MIN_CONDITIONS = threshold
            batched = make_policy(doc).view("s", "u").decide(call)
            assert (batched.action, batched.rule_name) == (single.action, single.rule_name), threshold
    finally:
        policy_module.BATCH_MIN_CONDITIONS = saved


def test_remembered_approvals_match_exactly_what_was_approved():
    """The approval interceptor writes "remember always" rules (mcpwrap._state.approvals.override_rule); this
    engine must read them as meant: the same call matches, any other value does not."""
    from mcpwrap._state.approvals import override_rule
    from mcpwrap._policy.engine import parse_rules

    args = {"query": "select * from t where a = 'x?'", "limit": 3, "deep": {"flag": True, "none": None}, "path": "/tmp/[a]"}
    rule = override_rule(server="db", tool="sql", arguments=args)
    overrides = parse_rules([rule], source="overrides file")
    policy = make_policy({"rules": [{"name": "deny-all", "action": "deny"}]}, overrides=overrides)
    view = policy.view("db", "u")
    assert view.decide(Call("tools/call", "sql", args)).rule_name == rule["name"]
    for changed in ({**args, "query": "select 1 from t where a = 'xy'"}, {**args, "limit": 4}, {**args, "path": "/tmp/a"},
                    {**args, "deep": {"flag": False, "none": None}}):
        assert view.decide(Call("tools/call", "sql", changed)).rule_name == "deny-all", changed
    assert policy.view("other-server", "u").decide(Call("tools/call", "sql", args)).rule_name == "deny-all"
