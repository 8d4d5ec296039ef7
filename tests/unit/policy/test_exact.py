"""The ``exact`` condition: one call and nothing else — literal names, the whole arguments by canonical digest."""

from __future__ import annotations

import json

import pytest
from policy_factories import make_policy
from typer.testing import CliRunner

from mcpwrap._cli.app import app
from mcpwrap._errors import ConfigError
from mcpwrap._policy.check import evaluate_call, validate_file
from mcpwrap._policy.engine import Call
from mcpwrap._policy.exact import arguments_digest, canonical_json
from mcpwrap._policy.readings import Unknown
from mcpwrap.interceptors import SECTIONS

ARGS = {"remote": "origin", "branch": "main"}


def exact_policy(**exact) -> dict:
    spec = {"server": "git", "tool": "git_push", "arguments": ARGS, **exact}
    return {"rules": [{"name": "pushed-once", "action": "allow", "match": {"exact": spec}}, {"name": "deny-all", "action": "deny"}]}


def rule_of(doc: dict, call: Call, server: str = "git", subject: str = "alice") -> str:
    return make_policy(doc).view(server, subject).decide(call).rule_name


def test_canonical_json_has_one_spelling_per_value():
    assert canonical_json({"b": 1, "a": [True, None, 1.5]}) == '{"a":[true,null,1.5],"b":1}'
    assert canonical_json({"a": 1}) != canonical_json({"a": 1.0}) != canonical_json({"a": True})
    assert canonical_json("\u202e\udc00é") == '"\\u202e\\udc00\\u00e9"'
    with pytest.raises(ValueError):
        canonical_json({"n": float("nan")})


def test_matches_the_call_and_nothing_else():
    doc = exact_policy()
    assert rule_of(doc, Call("tools/call", "git_push", dict(ARGS))) == "pushed-once"
    assert rule_of(doc, Call("tools/call", "git_push", dict(reversed(list(ARGS.items()))))) == "pushed-once"  # key order
    for other in (
        {**ARGS, "force": True},  # one more argument: the force push a remembered plain push must not allow
        {"remote": "origin"},
        {**ARGS, "branch": "MAIN"},
        {**ARGS, "branch": "main "},
        {**ARGS, "branch": ["main"]},
        {**ARGS, "extra": None},
        None,
    ):
        assert rule_of(doc, Call("tools/call", "git_push", other)) == "deny-all", other
    assert rule_of(doc, Call("tools/call", "GIT_PUSH", dict(ARGS))) == "deny-all"  # names are not folded
    assert rule_of(doc, Call("tools/call", "git_push\u200b", dict(ARGS))) == "deny-all"  # nor cleaned
    assert rule_of(doc, Call("resources/read", "git_push", dict(ARGS))) == "deny-all"
    assert rule_of(doc, Call("tools/call", "git_push", dict(ARGS)), server="git2") == "deny-all"


def test_subject_is_pinned_when_given():
    doc = exact_policy(subject="alice")
    assert rule_of(doc, Call("tools/call", "git_push", ARGS), subject="alice") == "pushed-once"
    assert rule_of(doc, Call("tools/call", "git_push", ARGS), subject="bob") == "deny-all"
    assert rule_of(doc, Call("tools/call", "git_push", ARGS), subject="") == "deny-all"
    assert rule_of(exact_policy(), Call("tools/call", "git_push", ARGS), subject="bob") == "pushed-once"  # absent: any


@pytest.mark.parametrize("name", ["*", "git_*", "git_pus?", "[g]it_push"])
def test_glob_characters_in_names_are_literal(name):
    doc = exact_policy(tool=name, server=name)
    assert rule_of(doc, Call("tools/call", name, ARGS), server=name) == "pushed-once"
    assert rule_of(doc, Call("tools/call", "git_push", ARGS), server=name) == "deny-all"
    assert rule_of(doc, Call("tools/call", name, ARGS), server="git") == "deny-all"


def test_a_written_digest_must_be_the_digest_of_the_arguments_shown():
    good = arguments_digest(ARGS)
    assert rule_of(exact_policy(digest=good), Call("tools/call", "git_push", ARGS)) == "pushed-once"
    with pytest.raises(ConfigError, match="not the digest of the arguments shown") as err:
        make_policy(exact_policy(digest=arguments_digest({**ARGS, "force": True})))
    assert "rules.0.match.exact.digest" in str(err.value)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"tool": "t", "arguments": {}}, "needs its server"),
        ({"server": "s", "arguments": {}}, "needs its tool"),
        ({"server": "s", "tool": "t"}, "needs its arguments"),
        ({"server": "s", "tool": "t", "arguments": ["a"]}, "must be a mapping"),
        ({"server": "s", "tool": ["t"], "arguments": {}}, "expected str"),
        ({"server": "s", "tool": "t", "arguments": {}, "tools": "x"}, "unknown key"),
        ("s/t", "expected mapping"),
    ],
)
def test_invalid_exact_calls_are_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_policy({"rules": [{"name": "r", "action": "allow", "match": {"exact": spec}}]})


def test_unknown_arguments_may_or_may_not_match():
    decision = make_policy(exact_policy()).view("git", "alice").decide(Call("tools/call", "git_push", Unknown(None)))
    assert not decision.decided and {r.name if r else None for r, _, _ in decision.possible} >= {"pushed-once"}


def test_policy_validate_and_test_understand_it(tmp_path, mcpwrap_home):
    f = tmp_path / "p.yaml"
    doc = exact_policy(digest=arguments_digest(ARGS))
    f.write_text(json.dumps(doc))
    v = validate_file(f, SECTIONS)
    assert v.ok, v.errors
    result = evaluate_call(v.policy, Call("tools/call", "git_push", dict(ARGS)), subject="alice", server="git")
    assert result.decision.rule_name == "pushed-once"
    assert any("exactly the call approved" in line and arguments_digest(ARGS) in line for line in result.why)
    runner = CliRunner()
    cli = runner.invoke(app, ["policy", "test", str(f), "--server", "git", "--tool", "git_push", "--args", json.dumps(ARGS), "--expect", "allow"])
    assert cli.exit_code == 0, cli.output
    more = runner.invoke(app, ["policy", "test", str(f), "--server", "git", "--tool", "git_push",
                               "--args", json.dumps({**ARGS, "force": True}), "--expect", "allow"])
    assert more.exit_code == 1 and "deny-all" in more.output
    doc["rules"][0]["match"]["exact"]["arguments"] = {**ARGS, "force": True}  # edited, digest left as it was
    f.write_text(json.dumps(doc))
    bad = runner.invoke(app, ["policy", "validate", str(f)])
    assert bad.exit_code != 0 and "not the digest of the arguments shown" in bad.output
