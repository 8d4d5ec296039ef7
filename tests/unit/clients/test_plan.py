"""Wrapping and unwrapping the servers of a configuration file, as pure functions over its text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpwrap._clients.entries import MARKER, WrapSpec, parse_wrapped, scan
from mcpwrap._clients.jsonedit import parse
from mcpwrap._clients.locations import ConfigFile
from mcpwrap._clients.plan import Selection, plan_disable, plan_enable
from mcpwrap._errors import ClientConfigError

CLAUDE = ConfigFile("claude-code", "user", Path("/home/u/.claude.json"), claude_state=True)
MCP_JSON = ConfigFile("claude-code", "project", Path("/p/.mcp.json"), project="/p")
VSCODE = ConfigFile("vscode", "project", Path("/p/.vscode/mcp.json"), servers_key="servers", jsonc=True, project="/p", type_required=True)
SPEC = WrapSpec(("/opt/venv/bin/mcpwrap",), policy="/home/u/.mcpwrap/policy.yaml")
ALL = Selection()


def claude_state() -> dict:
    return {
        "numStartups": 41,
        "tipsHistory": {"new-user-warmup": 7},
        "mcpServers": {
            "github": {
                "type": "stdio",
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github"],
                "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}", "API": "${API_URL:-https://api.github.com}"},
            },
            "docs": {"type": "http", "url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer ${T}"}},
            "events": {"type": "sse", "url": "https://events.example/sse"},
            "bare": {"command": "/usr/local/bin/bare-server"},
        },
        "projects": {
            "/home/u/work/api": {
                "allowedTools": [],
                "history": [{"display": "fix the bug", "pastedContents": {}}],
                "mcpServers": {
                    "db": {
                        "type": "stdio",
                        "command": "uvx",
                        "args": ["mcp-server-sqlite", "--db", "${HOME}/db.sqlite"],
                        "env": {},
                        "x-custom": {"kept": True},
                    },
                    "guarded": {"command": "uvx", "args": ["mcp-context-protector", "--command", "node s.js"]},
                },
                "hasTrustDialogAccepted": True,
            },
            "/home/u/work/site": {"mcpServers": {}, "lastCost": 0.5},
            "/home/u/empty": {"allowedTools": []},
        },
        "userID": "abc",
    }


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)  # the way Claude Code writes ~/.claude.json


def entries_by_name(cf, text):
    return {e.name: e for e in scan(cf, text)[1]}


def test_enable_wraps_every_stdio_server_and_keeps_everything_else():
    text = dumps(claude_state())
    result = plan_enable(CLAUDE, text, SPEC, ALL)
    after = json.loads(result.new_text)
    gh = after["mcpServers"]["github"]
    assert gh["command"] == "/opt/venv/bin/mcpwrap"
    assert gh["args"] == ["wrap", "--name", "github", "--policy", "/home/u/.mcpwrap/policy.yaml", "--", "npx", "-y", "@modelcontextprotocol/server-github"]
    assert gh["type"] == "stdio" and gh["env"] == claude_state()["mcpServers"]["github"]["env"]  # ${VAR} verbatim
    assert list(gh) == ["type", "command", "args", "env", MARKER]  # key order kept, record appended
    db = after["projects"]["/home/u/work/api"]["mcpServers"]["db"]
    assert db["x-custom"] == {"kept": True} and db["args"][-3:] == ["mcp-server-sqlite", "--db", "${HOME}/db.sqlite"]
    assert after["mcpServers"]["docs"] == claude_state()["mcpServers"]["docs"]
    assert after["projects"]["/home/u/work/api"]["mcpServers"]["guarded"] == claude_state()["projects"]["/home/u/work/api"]["mcpServers"]["guarded"]
    # outside the wrapped servers, the document is the same
    for key in ("numStartups", "tipsHistory", "userID"):
        assert after[key] == claude_state()[key]
    actions = {(r.scope, r.server): (r.action, r.note) for r in result.rows}
    assert actions[("user", "github")][0] == "wrapped"
    assert actions[("user", "bare")][0] == "wrapped"
    assert actions[("local", "db")][0] == "wrapped"
    assert actions[("user", "docs")] == ("skipped", "http server: mcpwrap wraps stdio servers only")
    assert actions[("user", "events")] == ("skipped", "sse server: mcpwrap wraps stdio servers only")
    assert actions[("local", "guarded")] == ("skipped", "already wrapped by mcp-context-protector: not wrapped again")


def test_diff_touches_only_the_wrapped_entries():
    text = dumps(claude_state())
    new = plan_enable(CLAUDE, text, SPEC, ALL).new_text
    root = parse(text)
    spans = []
    for e in scan(CLAUDE, text)[1]:
        if e.state == "stdio":
            spans.append((e.node.start, e.node.end))
    # the text before the first wrapped entry and after the last is unchanged
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    assert new[:first] == text[:first]
    assert new.endswith(text[last:])
    assert root.value == json.loads(text)


def test_second_enable_changes_nothing_and_disable_restores_the_bytes():
    text = dumps(claude_state()) + "\n"
    once = plan_enable(CLAUDE, text, SPEC, ALL).new_text
    twice = plan_enable(CLAUDE, once, SPEC, ALL)
    assert twice.new_text == once
    assert {r.action for r in twice.rows if r.server in ("github", "db", "bare")} == {"unchanged"}
    assert plan_disable(CLAUDE, once, ALL).new_text == text


@pytest.mark.parametrize(
    "text",
    [
        '{"mcpServers": {"a": {"command": "x", "args": ["1", "2"]}, "b": {"command": "y"}}}',
        '{"mcpServers":{"a":{"command":"x","args":["1","2"]}}}',
        '{\n\t"mcpServers": {\n\t\t"a": {\n\t\t\t"command": "x",\n\t\t\t"args": []\n\t\t}\n\t}\n}\n',
        '{\n    "mcpServers": {\n        "a": {\n            "args": [\n                "1"\n            ],\n            "command": "x"\n        }\n    }\n}',
        '{"mcpServers": {"a": {"command": "caf\\u00e9", "args": ["a\\/b", "\\u00e9"]}}}',
        '{"mcpServers": {"a": {"command": "x", "args": [ "1" ,  "2" ]}}}',
        '{\r\n  "mcpServers": {\r\n    "a": {\r\n      "command": "x",\r\n      "args": ["1"]\r\n    }\r\n  }\r\n}\r\n',
    ],
)
def test_hand_formatted_files_round_trip_exactly(text):
    wrapped = plan_enable(MCP_JSON, text, SPEC, ALL).new_text
    assert wrapped != text
    before, after = json.loads(text)["mcpServers"]["a"], json.loads(wrapped)["mcpServers"]["a"]
    w = parse_wrapped(after["command"], after["args"])
    assert (w.command, w.args) == (before["command"], before.get("args", []))
    assert plan_disable(MCP_JSON, wrapped, ALL).new_text == text


server_entry = st.fixed_dictionaries(
    # an alphabet that cannot spell mcpwrap or another wrapper's name: those entries are left alone on purpose
    {"command": st.text(alphabet='abcxyz/._- é0\\"', min_size=1, max_size=10)},
    optional={
        "args": st.lists(st.text(max_size=8), max_size=4),
        "type": st.just("stdio"),
        "env": st.dictionaries(st.sampled_from(["A", "B_KEY"]), st.sampled_from(["${A}", "${B:-x}", "v"]), max_size=2),
        "zz-unknown": st.integers(),
    },
)


@settings(max_examples=120, deadline=None)
@given(
    servers=st.dictionaries(st.text(min_size=1, max_size=6), server_entry, min_size=1, max_size=4),
    indent=st.sampled_from([None, 2, 4, "\t"]),
    ascii_only=st.booleans(),
    newline=st.booleans(),
)
def test_enable_then_disable_is_the_identity(servers, indent, ascii_only, newline):
    text = json.dumps({"mcpServers": servers, "other": [1]}, indent=indent, ensure_ascii=ascii_only) + ("\n" if newline else "")
    wrapped = plan_enable(MCP_JSON, text, SPEC, ALL).new_text
    after = json.loads(wrapped)["mcpServers"]
    for name, entry in servers.items():
        w = parse_wrapped(after[name]["command"], after[name]["args"])
        assert w is not None and w.name == name and w.command == entry["command"] and w.args == entry.get("args", [])
        assert {k: v for k, v in after[name].items() if k not in ("command", "args", MARKER)} == {
            k: v for k, v in entry.items() if k not in ("command", "args")
        }
    assert plan_enable(MCP_JSON, wrapped, SPEC, ALL).new_text == wrapped
    assert plan_disable(MCP_JSON, wrapped, ALL).new_text == text


def test_disable_without_the_record_restores_from_the_command_line():
    text = dumps({"mcpServers": {"a": {"command": "node", "args": ["s.js", "--x"], "env": {"K": "${K}"}}}})
    wrapped = json.loads(plan_enable(MCP_JSON, text, SPEC, ALL).new_text)
    del wrapped["mcpServers"]["a"][MARKER]  # a client that rewrites its file without unknown keys
    restored = plan_disable(MCP_JSON, dumps(wrapped), ALL).new_text
    assert restored == text


def test_disable_keeps_an_edit_made_to_the_wrapped_command_line():
    text = dumps({"mcpServers": {"a": {"command": "node", "args": ["s.js"]}}})
    wrapped = json.loads(plan_enable(MCP_JSON, text, SPEC, ALL).new_text)
    wrapped["mcpServers"]["a"]["args"].append("--verbose")
    wrapped["numStartups"] = 2  # and the client changed something else too
    restored = json.loads(plan_disable(MCP_JSON, dumps(wrapped), ALL).new_text)
    assert restored == {"mcpServers": {"a": {"command": "node", "args": ["s.js", "--verbose"]}}, "numStartups": 2}


def test_disable_leaves_servers_it_did_not_wrap():
    text = dumps({"mcpServers": {"a": {"command": "node"}, "g": {"command": "mcpgw", "args": ["--", "x"]}}})
    result = plan_disable(MCP_JSON, text, ALL)
    assert result.new_text == text
    assert {r.action for r in result.rows} == {"unchanged"}


def test_entries_wrapped_by_hand_with_the_module_form_are_recognised():
    # an interpreter that has mcpwrap installed (this one) runs the real mcpwrap with -m
    text = dumps({"mcpServers": {"a": {"command": sys.executable, "args": ["-m", "mcpwrap", "wrap", "--", "srv"]}}})
    (entry,) = scan(MCP_JSON, text)[1]
    assert entry.state == "wrapped" and entry.wrapped.command == "srv"
    same = WrapSpec((sys.executable, "-m", "mcpwrap"), policy=SPEC.policy)
    assert plan_enable(MCP_JSON, text, same, ALL).new_text == text
    # another launcher takes over the entry and keeps its options; disable restores the original either way
    moved = json.loads(plan_enable(MCP_JSON, text, SPEC, ALL).new_text)["mcpServers"]["a"]
    assert moved == {"command": SPEC.launcher[0], "args": ["wrap", "--", "srv"]}
    assert json.loads(plan_disable(MCP_JSON, text, ALL).new_text) == {"mcpServers": {"a": {"command": "srv", "args": []}}}


def test_selection_by_scope_server_and_project():
    text = dumps(claude_state())
    only_local = plan_enable(CLAUDE, text, SPEC, Selection(scopes=frozenset({"local"})))
    assert {r.server for r in only_local.rows if r.action == "wrapped"} == {"db"}
    only_gh = plan_enable(CLAUDE, text, SPEC, Selection(servers=frozenset({"github"})))
    assert {r.server for r in only_gh.rows} == {"github"}
    other_project = plan_enable(CLAUDE, text, SPEC, Selection(scopes=frozenset({"local"}), projects=frozenset({"/home/u/work/site"})))
    assert other_project.new_text == text and other_project.rows == []


def test_vscode_servers_key_with_comments_and_type():
    text = (
        '{\n  // inputs are prompted by VS Code\n  "inputs": [{"id": "key", "type": "promptString"}],\n'
        '  "servers": {\n    "fetch": {\n      "type": "stdio", // required\n      "command": "uvx",\n'
        '      "args": ["mcp-server-fetch"],\n      "env": {"KEY": "${input:key}"}\n    },\n'
        '    "remote": {"type": "http", "url": "https://x/mcp"},\n  },\n}\n'
    )
    result = plan_enable(VSCODE, text, SPEC, ALL)
    assert "// required" in result.new_text and "// inputs are prompted" in result.new_text
    fetch = parse(result.new_text, jsonc=True).value["servers"]["fetch"]
    assert fetch["type"] == "stdio" and fetch["env"] == {"KEY": "${input:key}"}
    assert fetch["args"][-2:] == ["uvx", "mcp-server-fetch"]
    assert plan_disable(VSCODE, result.new_text, ALL).new_text == text


@pytest.mark.parametrize(
    "doc, message",
    [
        ([1, 2], "the document: expected a JSON object"),
        ({"mcpServers": []}, "mcpServers: expected an object of servers"),
        ({"mcpServers": {"a": "npx x"}}, "mcpServers.a: expected an object describing the server"),
        ({"mcpServers": {"a": {"args": ["x"]}}}, "mcpServers.a.command: expected a non-empty string"),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, "mcpServers.a.args: expected a list of strings"),
        ({"projects": {"/p": {"mcpServers": {"a": {"command": 3}}}}}, "projects['/p'].mcpServers.a.command"),
        ({"projects": []}, "projects: expected an object"),
    ],
)
def test_unexpected_shapes_are_refused_with_the_place(doc, message):
    with pytest.raises(ClientConfigError) as info:
        plan_enable(CLAUDE, json.dumps(doc), SPEC, ALL)
    assert message in str(info.value) and str(CLAUDE.path) in str(info.value)


def test_invalid_json_is_refused_with_line_and_column():
    with pytest.raises(ClientConfigError) as info:
        plan_enable(CLAUDE, '{\n  "mcpServers": {,}\n}', SPEC, ALL)
    assert "not valid JSON: line 2 column 18" in str(info.value)
