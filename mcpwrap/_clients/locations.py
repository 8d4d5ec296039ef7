"""Where MCP clients keep their servers: the clients, their scopes and their configuration files.

    client          scope    file                                                    servers key
    claude-code     user     ~/.claude.json (or $CLAUDE_CONFIG_DIR/.claude.json)     mcpServers
    claude-code     local    the same file, projects["<abs path>"]                   mcpServers
    claude-code     project  <project>/.mcp.json                                     mcpServers
    claude-desktop  user     claude_desktop_config.json (per-OS directory)           mcpServers
    cursor          user     ~/.cursor/mcp.json                                      mcpServers
    cursor          project  <project>/.cursor/mcp.json                              mcpServers
    vscode          user     Code/User/mcp.json (per-OS directory), JSONC            servers (type required)
    vscode          project  <project>/.vscode/mcp.json, JSONC                       servers (type required)
    windsurf        user     ~/.codeium/windsurf/mcp_config.json                     mcpServers

``managed-mcp.json`` (enterprise-managed servers) is never read or written. Every path follows the environment
(``HOME``, ``CLAUDE_CONFIG_DIR``, ``XDG_CONFIG_HOME``, ``APPDATA``) and can be given explicitly
(:class:`Locations`), so tests never touch a real client's files.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import ClientConfigError

__all__ = ["CLIENTS", "SCOPES", "ConfigFile", "Locations", "config_files"]

CLIENTS = ("claude-code", "claude-desktop", "cursor", "vscode", "windsurf")
SCOPES = ("user", "local", "project")


@dataclass(frozen=True)
class ConfigFile:
    client: str
    scope: str  # "user" or "project"; a Claude Code ~/.claude.json holds user and local scopes
    path: Path
    servers_key: str = "mcpServers"
    jsonc: bool = False
    claude_state: bool = False  # ~/.claude.json: user scope at the top, local scope under projects
    project: str | None = None  # the project directory of a project-scope file
    type_required: bool = False  # VS Code: every server needs "type"


@dataclass
class Locations:
    """Every path mcpwrap looks at; defaults follow the environment (HOME, CLAUDE_CONFIG_DIR, APPDATA)."""

    home: Path = field(default_factory=Path.home)
    project: Path = field(default_factory=Path.cwd)
    project_given: bool = False  # --project narrows Claude Code's local scope to that project
    claude_json: Path | None = None
    claude_desktop: Path | None = None
    cursor: Path | None = None
    vscode_user: Path | None = None
    windsurf: Path | None = None
    platform: str = sys.platform

    def _appdata(self) -> Path:
        return Path(os.environ.get("APPDATA") or self.home / "AppData" / "Roaming")

    def claude_json_path(self) -> Path:
        if self.claude_json:
            return self.claude_json
        config_dir = os.environ.get("CLAUDE_CONFIG_DIR")
        return Path(config_dir) / ".claude.json" if config_dir else self.home / ".claude.json"

    def claude_desktop_path(self) -> Path:
        if self.claude_desktop:
            return self.claude_desktop
        if self.platform == "darwin":
            base = self.home / "Library" / "Application Support" / "Claude"
        elif self.platform.startswith("win"):
            base = self._appdata() / "Claude"
        else:
            base = Path(os.environ.get("XDG_CONFIG_HOME") or self.home / ".config") / "Claude"
        return base / "claude_desktop_config.json"

    def vscode_user_path(self) -> Path:
        if self.vscode_user:
            return self.vscode_user
        if self.platform == "darwin":
            base = self.home / "Library" / "Application Support" / "Code"
        elif self.platform.startswith("win"):
            base = self._appdata() / "Code"
        else:
            base = Path(os.environ.get("XDG_CONFIG_HOME") or self.home / ".config") / "Code"
        return base / "User" / "mcp.json"


def config_files(client: str, loc: Locations) -> list[ConfigFile]:
    """The configuration files of ``client`` (or every client for "all"), existing or not."""
    if client == "all":
        return [f for c in CLIENTS for f in config_files(c, loc)]
    project = loc.project.resolve()
    if client == "claude-code":
        return [
            ConfigFile(client, "user", loc.claude_json_path(), claude_state=True),
            ConfigFile(client, "project", project / ".mcp.json", project=str(project)),
        ]
    if client == "claude-desktop":
        return [ConfigFile(client, "user", loc.claude_desktop_path())]
    if client == "cursor":
        return [
            ConfigFile(client, "user", loc.cursor or loc.home / ".cursor" / "mcp.json"),
            ConfigFile(client, "project", project / ".cursor" / "mcp.json", project=str(project)),
        ]
    if client == "vscode":
        return [
            ConfigFile(client, "user", loc.vscode_user_path(), servers_key="servers", jsonc=True, type_required=True),
            ConfigFile(
                client, "project", project / ".vscode" / "mcp.json", servers_key="servers", jsonc=True,
                project=str(project), type_required=True,
            ),
        ]
    if client == "windsurf":
        return [ConfigFile(client, "user", loc.windsurf or loc.home / ".codeium" / "windsurf" / "mcp_config.json")]
    raise ClientConfigError(f"unknown client {client!r} (expected one of: {', '.join(CLIENTS)}, all)")
