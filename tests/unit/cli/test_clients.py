"""`mcpwrap enable` / `disable` / `status` through the typer application."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcpwrap._cli.app import app
from mcpwrap._clients import safewrite as _safewrite
from mcpwrap._clients.entries import MARKER, launcher


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake HOME with a Claude Code state file, a project with .mcp.json, and files of the other clients."""
    h = tmp_path / "home"
    proj = tmp_path / "proj"
    h.mkdir()
    proj.mkdir()
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(h / ".config"))
    monkeypatch.chdir(proj)
    state = {
        "numStartups": 3,
        "mcpServers": {
            "time": {"type": "stdio", "command": "mcp-server-time", "args": [], "env": {"TZ": "${TZ:-UTC}"}},
            "docs": {"type": "http", "url": "https://docs.example/mcp"},
        },
        "projects": {str(proj): {"mcpServers": {"everything": {"command": "npx", "args": ["-y", "server-everything"]}}, "x": 1}},
    }
    (h / ".claude.json").write_text(json.dumps(state, indent=2))
    (proj / ".mcp.json").write_text('{\n  "mcpServers": {\n    "files": {"command": "fs-server", "args": ["."]}\n  }\n}\n')
    (h / ".cursor").mkdir()
    (h / ".cursor" / "mcp.json").write_text('{"mcpServers": {"c1": {"command": "c1"}}}')
    (proj / ".vscode").mkdir()
    (proj / ".vscode" / "mcp.json").write_text('{\n  // workspace servers\n  "servers": {"v1": {"type": "stdio", "command": "v1"}}\n}\n')
    (h / ".codeium" / "windsurf").mkdir(parents=True)
    (h / ".codeium" / "windsurf" / "mcp_config.json").write_text('{"mcpServers": {"w1": {"command": "w1", "args": ["a"]}}}\n')
    (h / ".config" / "Claude").mkdir(parents=True)
    (h / ".config" / "Claude" / "claude_desktop_config.json").write_text('{"mcpServers": {"d1": {"command": "d1"}}}')
    return h


def snapshot(*roots: Path) -> dict[str, bytes]:
    return {
        str(p): p.read_bytes()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".mcpwrap" not in p.parts and "mcpwrap-home" not in p.parts
    }


def run(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_enable_then_disable_round_trips_every_file(home, mcpwrap_home):
    proj = Path.cwd()
    before = snapshot(home, proj)
    result = run("enable")
    assert result.exit_code == 0, result.output
    assert f"created the default policy {mcpwrap_home / 'policy.yaml'}" in result.output
    assert (mcpwrap_home / "policy.yaml").is_file()
    for server in ("time", "everything", "files"):
        assert f"wrap --name {server} --policy" in result.output
    assert "skipped: http server: mcpwrap wraps stdio servers only" in result.output
    assert "updated " + str(home / ".claude.json") in result.output
    state = json.loads((home / ".claude.json").read_text())
    assert state["mcpServers"]["time"]["command"] == launcher()[0]
    assert state["mcpServers"]["time"]["env"] == {"TZ": "${TZ:-UTC}"}
    assert MARKER in state["projects"][str(proj)]["mcpServers"]["everything"]
    # other clients untouched by the default --client claude-code
    assert (home / ".cursor" / "mcp.json").read_bytes() == before[str(home / ".cursor" / "mcp.json")]

    after_first = snapshot(home, proj)
    again = run("enable")
    assert again.exit_code == 0 and "nothing to enable: no file changed" in again.output
    assert snapshot(home, proj) == after_first

    off = run("disable")
    assert off.exit_code == 0, off.output
    assert "→ mcp-server-time" in off.output
    assert snapshot(home, proj) == before


def test_all_clients(home):
    proj = Path.cwd()
    before = snapshot(home, proj)
    result = run("enable", "--client", "all")
    assert result.exit_code == 0, result.output
    for name, path, key in [
        ("c1", home / ".cursor" / "mcp.json", "mcpServers"),
        ("w1", home / ".codeium" / "windsurf" / "mcp_config.json", "mcpServers"),
        ("d1", home / ".config" / "Claude" / "claude_desktop_config.json", "mcpServers"),
    ]:
        entry = json.loads(path.read_text())[key][name]
        assert entry["args"][entry["args"].index("--") + 1] == name
    vscode = (proj / ".vscode" / "mcp.json").read_text()
    assert "// workspace servers" in vscode and f'"command": "{launcher()[0]}"' in vscode
    status = json.loads(run("status", "--json").stdout)
    assert {(r["client"], r["server"]) for r in status if r["state"] == "wrapped"} == {
        ("claude-code", "time"), ("claude-code", "everything"), ("claude-code", "files"),
        ("claude-desktop", "d1"), ("cursor", "c1"), ("vscode", "v1"), ("windsurf", "w1"),
    }
    assert run("disable", "--client", "all").exit_code == 0
    assert snapshot(home, proj) == before


def test_dry_run_prints_a_diff_and_changes_nothing(home, mcpwrap_home):
    proj = Path.cwd()
    before = snapshot(home, proj)
    result = run("enable", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"--- {home / '.claude.json'}" in result.output and f"+++ {proj / '.mcp.json'}" in result.output
    assert '-      "command": "mcp-server-time",' in result.output
    assert '+      "x-mcpwrap": {' in result.output
    assert "would enable" in result.output
    assert snapshot(home, proj) == before and not (mcpwrap_home / "policy.yaml").exists()
    run("enable")
    result = run("disable", "--dry-run")
    assert '+      "command": "mcp-server-time",' in result.output and "would disable" in result.output


def test_scope_server_and_project_options(home):
    proj = Path.cwd()
    result = run("enable", "--scope", "project")
    assert result.exit_code == 0
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["time"]["command"] == "mcp-server-time"
    assert json.loads((proj / ".mcp.json").read_text())["mcpServers"]["files"]["command"] == launcher()[0]
    result = run("enable", "--server", "time", "--server", "nothing-by-that-name")
    state = json.loads((home / ".claude.json").read_text())
    assert state["mcpServers"]["time"]["command"] == launcher()[0]
    assert state["projects"][str(proj)]["mcpServers"]["everything"]["command"] == "npx"
    other = proj.parent / "elsewhere"
    other.mkdir()
    result = run("enable", "--scope", "local", "--project", str(other))
    assert "no MCP servers configured" in result.output
    assert run("enable", "--scope", "global").exit_code == 2
    assert run("enable", "--client", "emacs").exit_code == 2


def test_explicit_paths_and_policy(tmp_path, home, mcpwrap_home):
    cfg = tmp_path / "elsewhere.json"
    cfg.write_text('{"mcpServers": {"a": {"command": "a-server"}}}')
    policy = tmp_path / "strict.yaml"
    policy.write_text("{}\n")
    result = run("enable", "--claude-config", str(cfg), "--policy", str(policy), "--scope", "user")
    assert result.exit_code == 0, result.output
    assert json.loads(cfg.read_text())["mcpServers"]["a"]["args"][:5] == ["wrap", "--name", "a", "--policy", str(policy)]
    assert not (mcpwrap_home / "policy.yaml").exists()  # an explicit policy: no default created
    assert run("enable", "--policy", str(tmp_path / "nope.yaml")).exit_code == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"mcpServers": {"a": {"command": "x",}}}', "not valid JSON: line 1 column 38: expected a string key"),
        ('{"mcpServers": ["x"]}', "mcpServers: expected an object of servers"),
        ("", "the file is empty"),
    ],
)
def test_a_broken_file_is_a_clear_error_and_nothing_is_modified(home, content, message):
    proj = Path.cwd()
    (proj / ".mcp.json").write_text(content)
    before = snapshot(home, proj)
    result = run("enable")
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output + result.stderr
    assert result.stderr.startswith(f"mcpwrap: {proj / '.mcp.json'}: ")
    assert snapshot(home, proj) == before  # not even the valid ~/.claude.json


def test_a_read_only_file_is_a_clear_error(home):
    proj = Path.cwd()
    (proj / ".mcp.json").chmod(0o444)
    before = snapshot(home, proj)
    result = run("enable", "--scope", "project")
    assert result.exit_code == 1
    assert result.stderr == f"mcpwrap: {proj / '.mcp.json'}: the file is read-only; not modified\n"
    assert snapshot(home, proj) == before


def test_an_unwritable_file_is_a_clear_error(home, monkeypatch):
    before = snapshot(home)

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_safewrite.os, "replace", refuse)
    result = run("enable", "--scope", "user")
    assert result.exit_code == 1
    assert "cannot replace: Permission denied; not modified" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(home) == before


def test_status_reports_policy_audit_log_and_last_activity(home, mcpwrap_home):
    run("enable")
    log = mcpwrap_home / "audit.jsonl"
    records = [
        {"ts": "2026-01-01T00:00:00Z", "event": "session-start", "server": "time"},
        {"ts": "2026-01-02T00:00:00Z", "event": "message", "server": "files"},
        {"ts": "2026-01-03T00:00:00Z", "event": "message", "server": "time"},
        {"ts": "2026-01-04T00:00:00Z", "event": "message", "server": "somebody-else"},
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"ts": "broken')
    result = run("status", "--client", "claude-code", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["server"]: r for r in json.loads(result.stdout)}
    assert rows["time"]["state"] == "wrapped" and rows["time"]["last_activity"] == "2026-01-03T00:00:00Z"
    assert rows["time"]["policy"] == str(mcpwrap_home / "policy.yaml") and rows["time"]["audit_log"] == str(log)
    assert rows["files"]["scope"] == "project" and rows["files"]["last_activity"] == "2026-01-02T00:00:00Z"
    assert rows["everything"]["scope"] == "local" and rows["everything"]["last_activity"] is None
    assert rows["docs"]["state"] == "remote" and rows["docs"]["policy"] is None
    table = run("status")
    assert table.exit_code == 0 and "2026-01-03 00:00:00Z" in table.output and "never" in table.output
    (mcpwrap_home / "policy.yaml").unlink()
    rows = {r["server"]: r for r in json.loads(run("status", "--json").stdout)}
    assert rows["time"]["note"] == "policy file missing: the wrapped server will not start"
    ensure = run("enable")  # enable puts the default policy back
    assert "created the default policy" in ensure.output
    run("disable", "--server", "time")
    rows = {r["server"]: r for r in json.loads(run("status", "--json").stdout)}
    assert rows["time"]["state"] == "not wrapped" and rows["everything"]["state"] == "wrapped"


def test_status_with_no_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = run("status")
    assert result.exit_code == 0 and "no MCP servers configured" in result.output
    assert json.loads(run("status", "--json").stdout) == []


def test_status_lists_the_readable_files_and_names_the_broken_one(home):
    broken = home / ".cursor" / "mcp.json"
    broken.write_text('{"mcpServers": ')
    result = run("status", "--json")
    assert result.exit_code == 1
    assert f"mcpwrap: {broken}: not valid JSON" in result.stderr and "Traceback" not in result.stderr
    servers = {r["server"] for r in json.loads(result.stdout)}
    assert {"time", "everything", "files", "v1", "w1", "d1"} <= servers and "c1" not in servers


def test_disable_without_client_restores_every_client_and_says_which(home):
    proj = Path.cwd()
    before = snapshot(home, proj)
    assert run("enable", "--client", "all").exit_code == 0
    off = run("disable")
    assert off.exit_code == 0, off.output
    assert "restored: claude-code (3 servers), claude-desktop (1 server), cursor (1 server), vscode (1 server), windsurf (1 server)" in off.output
    assert snapshot(home, proj) == before
    again = run("disable")
    assert again.exit_code == 0 and "no server is wrapped by mcpwrap in any client" in again.output
    # --client still narrows it
    run("enable", "--client", "all")
    only = run("disable", "--client", "cursor")
    assert "restored: cursor (1 server)" in only.output
    rows = {r["server"]: r["state"] for r in json.loads(run("status", "--json").stdout)}
    assert rows["c1"] == "not wrapped" and rows["w1"] == "wrapped" and rows["time"] == "wrapped"


def test_a_look_alike_mcpwrap_is_reported_and_wrapped_for_real(home):
    proj = Path.cwd()
    tool = proj / "tools" / "mcpwrap"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nshift; while [ \"$1\" != -- ]; do shift; done; shift; exec \"$@\"\n")  # runs the server bare
    tool.chmod(0o755)
    fake = {"command": "./tools/mcpwrap", "args": ["wrap", "--name", "files", "--", "fs-server", "."], "x-mcpwrap": {"original": {"command": "fs-server"}}}
    (proj / ".mcp.json").write_text(json.dumps({"mcpServers": {"files": fake}}, indent=2) + "\n")
    before = snapshot(home, proj)
    rows = {r["server"]: r for r in json.loads(run("status", "--json").stdout)}
    assert rows["files"]["state"] == "look-alike"
    assert rows["files"]["note"].startswith("looks wrapped but is not mcpwrap (./tools/mcpwrap in ")
    table = run("status")
    assert "look-alike" in table.output and "looks wrapped but is not mcpwrap" in table.output
    result = run("enable", "--scope", "project")
    assert result.exit_code == 0, result.output
    entry = json.loads((proj / ".mcp.json").read_text())["mcpServers"]["files"]
    assert entry["command"] == launcher()[0]
    assert entry["args"][entry["args"].index("--") + 1 :] == ["./tools/mcpwrap", "wrap", "--name", "files", "--", "fs-server", "."]
    rows = {r["server"]: r for r in json.loads(run("status", "--json").stdout)}
    assert rows["files"]["state"] == "wrapped"
    assert run("disable", "--scope", "project").exit_code == 0
    assert snapshot(home, proj) == before  # the look-alike and its own marker, to the byte


def test_a_server_wrapped_by_a_vanished_mcpwrap_is_repaired_by_enable(home, tmp_path):
    proj = Path.cwd()
    gone = str(tmp_path / "deleted-clone" / ".venv" / "bin" / "mcpwrap")
    original = (proj / ".mcp.json").read_text()
    wrapped = {"command": gone, "args": ["wrap", "--name", "files", "--policy", "/p.yaml", "--", "fs-server", "."],
               "x-mcpwrap": {"original": {"command": "fs-server", "args": ["."]}}}
    (proj / ".mcp.json").write_text(json.dumps({"mcpServers": {"files": wrapped}}, indent=2) + "\n")
    rows = {r["server"]: r for r in json.loads(run("status", "--json").stdout)}
    assert rows["files"]["state"] == "broken" and "mcpwrap is missing" in rows["files"]["note"]
    result = run("enable", "--scope", "project")
    assert result.exit_code == 0 and "repointed" in result.output, result.output
    entry = json.loads((proj / ".mcp.json").read_text())["mcpServers"]["files"]
    assert entry["command"] == launcher()[0] and entry["args"] == wrapped["args"]  # its options are kept
    assert {r["server"]: r["state"] for r in json.loads(run("status", "--json").stdout)}["files"] == "wrapped"
    run("disable")
    assert json.loads((proj / ".mcp.json").read_text()) == json.loads(original)


def test_enable_warns_when_this_mcpwrap_lives_in_a_checkout(home):
    # the test venv is the checkout's .venv, so enable must say that the path it wrote will not last
    result = run("enable")
    assert result.exit_code == 0
    assert "deleting, moving or rebuilding that breaks every wrapped server" in result.stderr
    assert "pipx install" in result.stderr
    assert run("enable").stderr == ""  # nothing changed: nothing to warn about
    data = json.loads(run("disable", "--json").stdout)
    assert {r["server"] for r in data["rows"] if r["action"] == "restored"} == {"time", "everything", "files"}
    assert data["written"] and data["dry_run"] is False


def test_enable_json_reports_rows_files_and_warnings(home):
    data = json.loads(run("enable", "--json", "--dry-run").stdout)
    assert data["dry_run"] is True and data["written"] == [] and len(data["diffs"]) == 2
    by_server = {r["server"]: r for r in data["rows"]}
    assert by_server["time"]["action"] == "wrapped" and by_server["time"]["after"].startswith(launcher()[0])
    assert by_server["docs"]["action"] == "skipped"
    assert data["warnings"] and "pipx install" in data["warnings"][0]


def test_status_is_plain_and_whole_when_not_a_terminal(home):
    run("enable")
    result = CliRunner().invoke(app, ["status"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "MCP servers" and lines[1].split() == ["client", "scope", "project", "server", "state", "last", "activity"]
    docs = next(line for line in lines if " docs " in line)
    assert "remote; http server: mcpwrap wraps stdio servers only" in docs  # the whole note, on the row's line
    assert not any(ch in result.stdout for ch in "│┃━─…") and "\x1b[" not in result.stdout
