"""Where each client keeps its servers, following the environment."""

from __future__ import annotations

from mcpwrap._clients.locations import Locations, config_files


def test_config_file_locations_follow_home_and_claude_config_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    loc = Locations(home=tmp_path, project=tmp_path / "proj", platform="linux")
    paths = {(f.client, f.scope): f.path for f in config_files("all", loc)}
    assert paths[("claude-code", "user")] == tmp_path / ".claude.json"
    assert paths[("claude-code", "project")] == (tmp_path / "proj").resolve() / ".mcp.json"
    assert paths[("cursor", "user")] == tmp_path / ".cursor" / "mcp.json"
    assert paths[("windsurf", "user")] == tmp_path / ".codeium" / "windsurf" / "mcp_config.json"
    assert paths[("vscode", "project")].parts[-2:] == (".vscode", "mcp.json")
    assert Locations(home=tmp_path, platform="darwin").claude_desktop_path() == tmp_path / "Library/Application Support/Claude/claude_desktop_config.json"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert Locations(home=tmp_path).claude_json_path() == tmp_path / "cfg" / ".claude.json"
    assert not any("managed-mcp" in str(p) for p in paths.values())
