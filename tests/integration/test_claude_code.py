"""`mcpwrap enable` / `disable` against the real Claude Code CLI (@anthropic-ai/claude-code, `claude mcp list/get`).

`claude mcp list` launches every configured stdio server of the current project (user, local and project
scopes), runs the MCP handshake and tool listing as a health check, and prints "✔ Connected" per healthy one.
No login or network is needed for it. HOME points at a temporary directory, so the real ~/.claude.json is never
read; project-scope servers from .mcp.json run only once approved, which the fixture does the way Claude Code
records it: the project is trusted (`hasTrustDialogAccepted`) and the server is listed in
`enabledMcpjsonServers` of the project's `.claude/settings.local.json`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from rig import CLAUDE, EVERYTHING, FILESYSTEM, MCPWRAP, TIME, read_audit

from mcpwrap._clients.entries import launcher

pytestmark = pytest.mark.integration

CLAUDE_TIMEOUT_S = 180  # `claude mcp list` starts every server; node servers take seconds on a busy machine


@pytest.fixture
def world(tmp_path, mcpwrap_home):
    """A HOME with a realistic ~/.claude.json (user + several projects + remote entries + env vars + unknown
    keys) and a project with .mcp.json; `claude mcp list` has run once, so Claude Code has rewritten the file
    its own way (the snapshot is taken after that)."""
    assert Path(CLAUDE).exists(), f"Claude Code CLI missing at {CLAUDE}: run .ci/setup.sh"
    home = tmp_path / "home"
    api = tmp_path / "work" / "api"
    site = tmp_path / "work" / "site"
    for d in (home, api / ".claude", site):
        d.mkdir(parents=True)
    state = {
        "numStartups": 42,
        "installMethod": "npm",
        "tipsHistory": {"new-user-warmup": 7, "memory-command": 3},
        "mcpServers": {
            "time": {"type": "stdio", "command": TIME[0], "args": TIME[1:], "env": {"TZ": "${TZ:-UTC}"}},
            "docs": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer ${DOCS_TOKEN:-none}"}},
            "events": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
        },
        "projects": {
            str(api): {
                "allowedTools": [],
                "history": [{"display": "add a health check", "pastedContents": {}}],
                "mcpServers": {
                    "everything": {"command": EVERYTHING[0], "args": EVERYTHING[1:], "x-team-note": "keep me"},
                },
                "hasTrustDialogAccepted": True,
                "lastCost": 0.25,
            },
            str(site): {
                "allowedTools": ["Bash(npm test)"],
                "mcpServers": {
                    "site-files": {"type": "stdio", "command": FILESYSTEM[0], "args": [str(site)], "env": {"LOG": "${LOG_LEVEL:-info}"}},
                },
                "hasTrustDialogAccepted": True,
            },
        },
        "userID": "0123abcd",
        "x-unknown-top-level": {"nested": [1, 2, 3]},
    }
    (home / ".claude.json").write_text(json.dumps(state, indent=2))
    (api / ".mcp.json").write_text(
        '{\n  "mcpServers": {\n    "files": {\n      "command": "' + FILESYSTEM[0] + '",\n      "args": ["' + str(api) + '"]\n    }\n  }\n}\n'
    )
    (api / ".claude" / "settings.local.json").write_text(json.dumps({"enabledMcpjsonServers": ["files"]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "ANTHROPIC_"))}
    env.update(HOME=str(home), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    w = World(home, api, site, env, mcpwrap_home)
    first = w.claude("mcp", "list", cwd=api)
    assert connected(first) == {"time", "everything", "files"}, first
    return w


class World:
    def __init__(self, home: Path, api: Path, site: Path, env: dict, mcpwrap_home: Path) -> None:
        self.home, self.api, self.site, self.env, self.mcpwrap_home = home, api, site, env, mcpwrap_home
        self.files = [home / ".claude.json", api / ".mcp.json"]

    def claude(self, *args: str, cwd: Path) -> str:
        out = subprocess.run([CLAUDE, *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=CLAUDE_TIMEOUT_S)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def mcpwrap(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*MCPWRAP, *args], cwd=cwd, env={**self.env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120
        )

    def snapshot(self) -> dict[Path, bytes]:
        return {f: f.read_bytes() for f in self.files}


def connected(listing: str) -> set[str]:
    """Names of the servers `claude mcp list` reports as connected."""
    return {m.group(1) for m in re.finditer(r"^([\w.-]+): .* - ✔ Connected$", listing, re.M)}


def lines_of(listing: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^([\w.-]+): (.*)$", listing, re.M)}


def test_enable_wraps_every_stdio_server_and_disable_restores_the_bytes(world):
    original = world.snapshot()
    mcpwrap = launcher()[0]

    enabled = world.mcpwrap("enable", cwd=world.api)
    assert enabled.returncode == 0, enabled.stderr
    assert f"created the default policy {world.mcpwrap_home / 'policy.yaml'}" in enabled.stdout
    assert "skipped: http server: mcpwrap wraps stdio servers only" in enabled.stdout
    assert "skipped: sse server: mcpwrap wraps stdio servers only" in enabled.stdout

    listing = world.claude("mcp", "list", cwd=world.api)
    assert connected(listing) == {"time", "everything", "files"}, listing
    shown = lines_of(listing)
    for name in ("time", "everything", "files"):
        assert shown[name].startswith(f"{mcpwrap} wrap --name {name} --policy "), shown[name]
    assert "✔ Connected" not in shown["docs"]
    site_listing = world.claude("mcp", "list", cwd=world.site)
    assert connected(site_listing) == {"time", "site-files"}, site_listing
    assert lines_of(site_listing)["site-files"].startswith(f"{mcpwrap} wrap --name site-files ")

    got = world.claude("mcp", "get", "everything", cwd=world.api)
    assert f"Command: {mcpwrap}\n" in got
    assert f"Args: wrap --name everything --policy {world.mcpwrap_home / 'policy.yaml'} -- {EVERYTHING[0]} stdio" in got
    assert "Scope: Local config" in got and "✔ Connected" in got

    # the health checks went through mcpwrap: each server's handshake and tool listing are in the audit log
    records = read_audit(world.mcpwrap_home / "audit.jsonl")
    for name in ("time", "everything", "files", "site-files"):
        mine = [r for r in records if r.get("server") == name]
        assert any(r.get("event") == "session-start" for r in mine), name
        assert any(r.get("method") == "tools/list" and r.get("kind") == "result" for r in mine), name

    status = world.mcpwrap("status", "--json", cwd=world.api)
    rows = {(r["scope"], r["server"]): r for r in json.loads(status.stdout)}
    assert rows[("local", "everything")]["state"] == "wrapped" and rows[("local", "everything")]["last_activity"]
    assert rows[("user", "docs")]["state"] == "remote"

    disabled = world.mcpwrap("disable", cwd=world.api)
    assert disabled.returncode == 0, disabled.stderr
    assert world.snapshot() == original
    listing = world.claude("mcp", "list", cwd=world.api)
    assert lines_of(listing)["everything"].startswith(f"{EVERYTHING[0]} stdio - ✔ Connected")


def test_changes_claude_code_makes_while_enabled_are_kept(world):
    original = json.loads((world.home / ".claude.json").read_text())
    assert world.mcpwrap("enable", cwd=world.api).returncode == 0
    # Claude Code rewrites its state file: the record of the original must survive that
    world.claude("mcp", "add", "-s", "local", "added-later", "--", *TIME, cwd=world.api)
    world.claude("mcp", "add", "-s", "user", "user-later", "--", *TIME, cwd=world.api)
    world.claude("mcp", "add", "-s", "project", "project-later", "--", *TIME, cwd=world.api)
    state = json.loads((world.home / ".claude.json").read_text())
    assert "x-mcpwrap" in state["projects"][str(world.api)]["mcpServers"]["everything"]
    assert "x-mcpwrap" in state["mcpServers"]["time"]
    project = json.loads((world.api / ".mcp.json").read_text())
    assert "x-mcpwrap" in project["mcpServers"]["files"] and "project-later" in project["mcpServers"]

    assert world.mcpwrap("disable", cwd=world.api).returncode == 0
    text = (world.home / ".claude.json").read_text()
    restored = json.loads(text)
    assert restored["mcpServers"]["time"] == original["mcpServers"]["time"]
    assert restored["projects"][str(world.api)]["mcpServers"]["everything"] == original["projects"][str(world.api)]["mcpServers"]["everything"]
    assert restored["projects"][str(world.api)]["mcpServers"]["added-later"]["command"] == TIME[0]
    assert restored["mcpServers"]["user-later"]["command"] == TIME[0]
    assert text == json.dumps(restored, indent=2)  # still formatted the way Claude Code writes it
    project = json.loads((world.api / ".mcp.json").read_text())
    assert project["mcpServers"]["files"] == {"command": FILESYSTEM[0], "args": [str(world.api)]}
    assert project["mcpServers"]["project-later"]["command"] == TIME[0]
