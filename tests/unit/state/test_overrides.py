"""The overrides store: one reader and one writer of policy.overrides.yaml, validating with the policy's parser."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from policy_factories import make_policy

from mcpwrap._errors import ConfigError
from mcpwrap._paths import overrides_path
from mcpwrap._policy.engine import Call
from mcpwrap._state.overrides import add_rule, load_rules, override_rule, stamp


def allow(name: str, tool: str = "echo", **match) -> dict:
    return {"name": name, "action": "allow", "match": {"tools": [tool], **match}}


# --- the rule that remembers one approval -----------------------------------------------------------------------


def test_override_rule_pins_exactly_these_arguments():
    args = {"path": "/tmp/*.txt", "opts": {"mode": "a", "n": 3, "force": True}, "paths": ["/a", "/b"], "empty": {}}
    rule = override_rule(server="files", tool="write", subject="alice", arguments=args)
    assert rule["action"] == "allow"
    exact = rule["match"]["exact"]
    # Readable: the whole call as it was approved, names as literals; matched by the digest of the arguments.
    assert exact["server"] == "files" and exact["tool"] == "write" and exact["subject"] == "alice"
    assert exact["arguments"] == args and exact["digest"].startswith("sha256:")
    assert set(rule["match"]) == {"exact"}  # no globs, no per-argument patterns
    same = override_rule(server="files", tool="write", subject="alice", arguments=dict(reversed(list(args.items()))))
    assert same["name"] == rule["name"]  # key order is not part of the call
    assert override_rule(server="files", tool="write", subject="alice", arguments={"path": "/tmp/x"})["name"] != rule["name"]


@pytest.mark.parametrize("args", [["positional"], "text", {"n": float("inf")}, {"n": float("nan")}])
def test_arguments_a_rule_cannot_pin_are_refused(args):
    with pytest.raises(ValueError):
        override_rule(server="s", tool="t", arguments=args)


def test_remembered_approvals_match_exactly_what_was_approved():
    """A remembered rule, written to the store and read back, matches the approved call and no other."""
    args = {"query": "select * from t where a = 'x?'", "limit": 3, "deep": {"flag": True, "none": None}, "path": "/tmp/[a]",
            "list": [1, "two", {"three": 3.0}], "yes": "yes", "big": 2**70, "text": "line\nbreak\u202e"}
    rule = override_rule(server="db", tool="sql", subject="u", arguments=args)
    add_rule(rule)
    overrides = load_rules()
    policy = make_policy({"rules": [{"name": "deny-all", "action": "deny"}]}, overrides=overrides)
    view = policy.view("db", "u")
    assert view.decide(Call("tools/call", "sql", args)).rule_name == rule["name"]
    for changed in ({**args, "query": "select 1 from t where a = 'xy'"}, {**args, "limit": 4}, {**args, "path": "/tmp/a"},
                    {**args, "deep": {"flag": False, "none": None}}, {**args, "force": True}, {k: v for k, v in args.items() if k != "yes"},
                    {**args, "limit": 3.0}, {**args, "limit": True}, {**args, "list": [1, "two", {"three": 3}]},
                    {**args, "deep": {"flag": 1, "none": None}}, {**args, "query": args["query"].upper()}):
        assert view.decide(Call("tools/call", "sql", changed)).rule_name == "deny-all", changed
    assert policy.view("other-server", "u").decide(Call("tools/call", "sql", args)).rule_name == "deny-all"
    assert policy.view("db", "someone-else").decide(Call("tools/call", "sql", args)).rule_name == "deny-all"
    assert view.decide(Call("tools/call", "SQL", args)).rule_name == "deny-all"
    assert view.decide(Call("prompts/get", "sql", args)).rule_name == "deny-all"
    text = overrides_path().read_text(encoding="utf-8")
    assert text.isascii() and "\\u202E" in text and "/tmp/[a]" in text  # readable, invisible characters escaped


@pytest.mark.parametrize("server, tool", [("*", "*"), ("db", "sql*"), ("[d]b", "s?l"), ("db", "sql\u200b")])
def test_glob_like_names_are_literals(mcpwrap_home, server, tool):
    """A server or tool whose name looks like a glob is remembered as that name, matching nothing else."""
    args = {"q": 1}
    add_rule(override_rule(server=server, tool=tool, arguments=args))
    policy = make_policy({"rules": [{"name": "deny-all", "action": "deny"}]}, overrides=load_rules())
    assert policy.view(server, "u").decide(Call("tools/call", tool, args)).action == "allow"
    for other_server, other_tool in ((server, "sql_drop"), ("db2", tool), (server, "sql"), ("db", "sql")):
        if (other_server, other_tool) == (server, tool):
            continue
        assert policy.view(other_server, "u").decide(Call("tools/call", other_tool, args)).action == "deny", (other_server, other_tool)


# --- writing ---------------------------------------------------------------------------------------------------------


def test_add_rule_appends_once(mcpwrap_home):
    first = override_rule(server="files", tool="write", arguments={"path": "/tmp/a"})
    second = override_rule(server="files", tool="write", arguments={"path": "/tmp/b"})
    path = add_rule(first)
    assert path == overrides_path() and path.parent == mcpwrap_home
    add_rule(second)
    add_rule(first)  # the same approval again: no duplicate
    text = path.read_text()
    assert text.startswith("# mcpwrap policy overrides")
    doc = yaml.safe_load(text)
    assert [r["name"] for r in doc["rules"]] == [first["name"], second["name"]]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_rule_of_the_same_name_is_replaced_in_place():
    add_rule(allow("a", "one"))
    add_rule(allow("b", "two"))
    add_rule(allow("a", "three"))
    assert [(r.name, r.tools.patterns) for r in load_rules()] == [("a", ("three",)), ("b", ("two",))]


def test_adding_a_rule_already_there_does_not_rewrite_the_file():
    """Running wrappers reload when the file changes: an unchanged rule must not make them."""
    add_rule(allow("a"))
    before = stamp()
    add_rule(allow("a"))
    assert stamp() == before is not None


def test_the_file_becomes_owner_only_even_if_it_was_not():
    path = add_rule(allow("a"))
    os.chmod(path, 0o644)
    add_rule(allow("b"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    "rule, message",
    [
        ({"name": "x", "action": "perhaps"}, "must be one of allow, deny, approve"),
        ({"name": "x", "action": "allow", "match": {"nope": 1}}, "unknown key 'nope'"),
        ({"name": "x", "action": "allow", "match": {"arguments": {"": "v"}}}, "non-empty dot path"),
        ({"action": "allow"}, "needs a name"),
    ],
)
def test_an_invalid_rule_is_refused_before_the_file_is_touched(rule, message):
    with pytest.raises(ConfigError, match=message):
        add_rule(rule)
    assert not overrides_path().exists()
    add_rule(allow("good"))
    before = overrides_path().read_bytes()
    with pytest.raises(ConfigError, match=message):
        add_rule(rule)
    assert overrides_path().read_bytes() == before


@pytest.mark.parametrize(
    "text",
    [
        "- just a list\n",
        "rules:\n  - name: x\n    action: perhaps\n",
        "rules:\n  - name: x\n    action: allow\n  - name: x\n    action: deny\n",
        "version: v9\nrules: []\n",
        "rules: [\n",
        "rules: []\nextra: 1\n",
    ],
)
def test_a_file_the_policy_could_not_load_is_refused_and_left_as_it_is(mcpwrap_home, text):
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_rules()
    assert str(exc.value).startswith(str(overrides_path()))  # says which file, and where when it can
    with pytest.raises(ConfigError):
        add_rule(allow("a"))
    assert overrides_path().read_text() == text


def test_no_file_or_an_empty_one_has_no_rules(mcpwrap_home):
    assert load_rules() == () and stamp() is None
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text("")
    assert load_rules() == ()


def test_every_rule_error_is_collected_with_its_position(mcpwrap_home):
    mcpwrap_home.mkdir(parents=True, exist_ok=True)
    overrides_path().write_text("rules:\n  - name: a\n    action: perhaps\n  - name: b\n    action: allow\n  - action: deny\n")
    errors: list = []
    rules = load_rules(errors=errors)
    assert [r.name for r in rules] == ["b"]
    assert [(e.line, e.column) for e in errors] == [(3, 13), (6, 5)]


def test_concurrent_writers_lose_no_rule(mcpwrap_home):
    """One wrapper per server: several may remember a rule at the same moment."""
    writers, each = 4, 5
    script = (
        "import sys\n"
        "from mcpwrap._state.overrides import add_rule\n"
        "w = sys.argv[1]\n"
        f"for i in range({each}):\n"
        "    add_rule({'name': f'w{w}-{i}', 'action': 'allow', 'match': {'tools': [f'tool{w}{i}']}})\n"
    )
    env = {**os.environ, "MCPWRAP_HOME": str(mcpwrap_home)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], env=env) for w in range(writers)]
    assert [p.wait(timeout=60) for p in procs] == [0] * writers
    names = sorted(r.name for r in load_rules())
    assert names == sorted(f"w{w}-{i}" for w in range(writers) for i in range(each))
