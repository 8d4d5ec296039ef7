"""Matching semantics of policy rules: table-driven, with an evasion table that must always hit the rule."""

from __future__ import annotations

import json

import pytest
from policy_factories import DEMO, decide

from mcpwrap._errors import ConfigError
from mcpwrap._policy.engine import Call
from mcpwrap.interceptors import parse_policy as parse_config

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


# --- arguments as the audit log records them by default (redacted) -----------------------------------------------------


def test_recorded_arguments_decide_on_what_the_record_holds():
    from mcpwrap._policy.readings import Recorded

    redacted = "/home/u/[REDACTED:aws_access_key]/x"
    # deny: a known value decides either way; a redacted one might have matched
    assert decide(DEMO, Call("tools/call", "read_file", Recorded({"path": "/etc/passwd"}))) == ("deny", "block-sensitive-reads", True)
    assert decide(DEMO, Call("tools/call", "read_file", Recorded({"path": "/srv/notes"}))) == ("allow", "default-allow", True)
    assert decide(DEMO, Call("tools/call", "read_file", Recorded({"path": redacted})))[2] is False
    assert decide(DEMO, Call("tools/call", "read_file", Recorded({"path": ["/etc/passwd", redacted]})))[:2] == ("deny", "block-sensitive-reads")
    assert decide(DEMO, Call("tools/call", "read_file", Recorded({"other": redacted})))[:2] == ("allow", "default-allow")  # key absent
    # allow: every element must match; a known one that fails decides, a redacted one leaves it open
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", Recorded({"path": ["/tmp/a", "/etc/x"]})))[0] == "deny"
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", Recorded({"path": ["/tmp/a", "/tmp/" + redacted]})))[2] is False
    assert decide(ALLOW_TMP, Call("tools/call", "read_file", Recorded({"path": "/tmp/a"})))[::2] == ("allow", True)


def test_the_redaction_mark_is_what_the_redactor_writes():
    from mcpwrap._policy.readings import REDACTED_MARK
    from mcpwrap.detect.secrets import placeholder

    assert placeholder("aws_access_key").startswith(REDACTED_MARK)
