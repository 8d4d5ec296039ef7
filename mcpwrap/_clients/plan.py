"""MCP clients' configuration files, and wrapping / unwrapping their stdio servers with ``mcpwrap wrap``.

Where each client keeps its servers (see MCP-NOTES):

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

``managed-mcp.json`` (enterprise-managed servers) is never read or written.

A wrapped entry keeps every key of the original and changes two values only::

    "command": "<abs path of mcpwrap>",
    "args": ["wrap", "--name", "<server>", "--policy", "<file>", "--", "<original command>", <original args>…],
    "x-mcpwrap": {"original": {"command": …, "args": …}}

The command is absolute because some clients (Claude Desktop) start servers without the user's PATH. The
``x-mcpwrap`` member records the original (and whether ``args`` existed at all) so that :func:`disable`
restores it to the byte. If a client drops that member when it rewrites its file, disable restores from the
wrapped command line itself (everything after ``--``); and if the user edited the wrapped server's command
line after enable, that edit wins over the record. Before any file is written, enable checks that disable
would give back exactly the original text; when the file's formatting cannot be reproduced from the values
(unusual escapes, irregular layout) the original JSON text itself is recorded as well.

Every edit is surgical (:mod:`mcpwrap._clients.jsonedit`) and every write safe (:mod:`mcpwrap._clients.safewrite`). The
functions here are pure over text (``plan_*``), so dry runs, the merge after a concurrent change, and the
tests all use the same code.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .._errors import ClientConfigError
from .jsonedit import (
    ArrayLayout,
    Edit,
    JsonSyntaxError,
    Member,
    Node,
    apply_edits,
    array_layout,
    insert_member,
    line_indent,
    member_layout,
    parse,
    remove_member,
)

__all__ = [
    "CLIENTS",
    "SCOPES",
    "MARKER",
    "OTHER_WRAPPERS",
    "ConfigFile",
    "Locations",
    "WrapSpec",
    "Entry",
    "Row",
    "FileResult",
    "config_files",
    "launcher",
    "scan",
    "plan_enable",
    "plan_disable",
    "parse_wrapped",
]

CLIENTS = ("claude-code", "claude-desktop", "cursor", "vscode", "windsurf")
SCOPES = ("user", "local", "project")
MARKER = "x-mcpwrap"
REMOTE_TYPES = ("http", "sse", "streamable-http", "streamableHttp", "ws")

# Security wrappers and gateways that proxy a stdio server themselves: an entry launched through one of these is
# reported and left alone, since wrapping a wrapper would audit and filter the wrong side of it.
OTHER_WRAPPERS: tuple[tuple[str, str], ...] = (
    ("mcpgw", "mcpgw"),
    ("mcp-context-protector", "mcp-context-protector"),
    ("mcp-scan", "mcp-scan"),
    ("invariant-gateway", "invariant-gateway"),
    ("mcp-guardian", "mcp-guardian"),
    ("mcp-firewall", "mcp-firewall"),
    ("toolhive", "toolhive"),
    ("thv", "toolhive"),
)


# --- where the files are ---------------------------------------------------------------------------------------


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


# --- the wrapped form ------------------------------------------------------------------------------------------


def launcher() -> tuple[str, ...]:
    """How a client should start mcpwrap without relying on PATH.

    The ``mcpwrap`` console script next to the running interpreter (a venv's or pipx's bin directory) if there
    is one, else the interpreter itself with ``-m mcpwrap``. The interpreter path is made absolute but not
    resolved: a venv's ``python`` is a symlink, and resolving it would lose the venv.
    """
    bindir = Path(os.path.abspath(sys.executable)).parent
    for name in ("mcpwrap", "mcpwrap.exe"):
        script = bindir / name
        if script.is_file() and os.access(script, os.X_OK):
            return (str(script),)
    return (os.path.abspath(sys.executable), "-m", "mcpwrap")


@dataclass(frozen=True)
class WrapSpec:
    launcher: tuple[str, ...]
    policy: str | None = None
    audit_log: str | None = None

    def wrapped(self, name: str, command: str, args: list) -> tuple[str, list]:
        options = ["--name", name]
        if self.policy:
            options += ["--policy", self.policy]
        if self.audit_log:
            options += ["--audit-log", self.audit_log]
        return self.launcher[0], [*self.launcher[1:], "wrap", *options, "--", command, *args]


@dataclass(frozen=True)
class Wrapped:
    """A parsed ``mcpwrap wrap`` command line."""

    name: str | None
    policy: str | None
    audit_log: str | None
    command: str
    args: list


def _basename(word: str) -> str:
    return word.replace("\\", "/").rsplit("/", 1)[-1].lower()


def parse_wrapped(command: Any, args: Any) -> Wrapped | None:
    """The mcpwrap options and original command of a wrapped entry, or None if it is not an mcpwrap entry."""
    if not isinstance(command, str) or not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None
    base = _basename(command)
    if base in ("mcpwrap", "mcpwrap.exe") and args[:1] == ["wrap"]:
        rest = args[1:]
    elif args[:3] == ["-m", "mcpwrap", "wrap"]:
        rest = args[3:]
    else:
        return None
    from .._errors import McpwrapError
    from .._wrapargs import parse_wrap_args

    try:
        opts = parse_wrap_args(rest)
    except McpwrapError:
        return None
    if not opts.command:
        return None
    return Wrapped(opts.name, opts.policy, opts.audit_log, opts.command[0], opts.command[1:])


# Commands that run a package or script named by their first argument: the wrapper may be that argument.
LAUNCHERS = frozenset({"npx", "uvx", "pipx", "bunx", "pnpm", "yarn", "node", "deno", "python", "python3", "uv", "bun"})
_LAUNCHER_VERBS = frozenset({"run", "dlx", "exec", "x", "tool"})


def _launched_name(args: list) -> str | None:
    """The package/script a launcher runs: its first argument that is not an option or a verb."""
    take_next = False
    for arg in args[:8]:
        if not isinstance(arg, str):
            return None
        if take_next:
            return arg
        if arg == "-m":  # python -m module
            take_next = True
        elif arg.startswith("-") or arg in _LAUNCHER_VERBS:
            continue
        else:
            return arg
    return None


def other_wrapper(command: Any, args: Any) -> str | None:
    """The name of another security wrapper that launches this entry, if any.

    Only the command itself, or what a launcher (npx, uvx, python -m, …) runs, counts: an argument that merely
    spells a wrapper's name elsewhere on the command line does not make the entry a wrapped one.
    """
    if not isinstance(command, str):
        return None
    words = [command]
    if _basename(command).rsplit(".", 1)[0] in LAUNCHERS and isinstance(args, list):
        launched = _launched_name(args)
        if launched is not None:
            words.append(launched)
    for word in words:
        base = _basename(word).split("@", 1)[0]
        for stem in (base, base.rsplit(".", 1)[0]):
            for token, tool in OTHER_WRAPPERS:
                if stem == token:
                    return tool
    return None


# --- entries ---------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One configured server, classified."""

    file: ConfigFile
    scope: str
    project: str | None
    name: str
    node: Node
    member: Member
    servers: Node
    state: str  # "stdio" (wrappable), "wrapped" (by mcpwrap), "remote" (http/sse), "other" (another wrapper)
    note: str = ""
    wrapped: Wrapped | None = None

    @property
    def value(self) -> dict:
        return self.node.value

    def command_line(self) -> str:
        v = self.value
        if self.state == "remote":
            return f"{v.get('type', 'http')} {v.get('url') or v.get('serverUrl') or ''}".strip()
        return _join([v.get("command", "")] + list(v.get("args") or []))


def _join(words: Iterable[Any]) -> str:
    import shlex

    return " ".join(shlex.quote(str(w)) if w != "" else "''" for w in words)


def _descend(cf: ConfigFile):
    key = cf.servers_key
    if cf.claude_state:

        def claude(path: tuple) -> bool:
            n = len(path)
            if n <= 3 and path[:1] == (key,):
                return n < 3 or path[2] == "args"
            if path[:1] == ("projects",):
                if n <= 2:
                    return True
                if path[2] != key:
                    return False
                return n <= 4 or (n == 5 and path[4] == "args")
            return n == 0

        return claude

    def plain(path: tuple) -> bool:
        n = len(path)
        return n == 0 or (path[:1] == (key,) and (n < 3 or (n == 3 and path[2] == "args")))

    return plain


def _shape_error(cf: ConfigFile, where: str, expected: str) -> ClientConfigError:
    return ClientConfigError(f"{cf.path}: {where}: expected {expected}; not modified")


def _classify(cf: ConfigFile, scope: str, project: str | None, servers: Node, member: Member, where: str) -> Entry:
    node = member.node
    name = member.key
    entry = Entry(cf, scope, project, name, node, member, servers, "stdio")
    if not isinstance(node.value, dict):
        raise _shape_error(cf, f"{where}.{name}", "an object describing the server")
    v = node.value
    kind = v.get("type")
    if kind in REMOTE_TYPES or ("command" not in v and ("url" in v or "serverUrl" in v)):
        entry.state = "remote"
        entry.note = f"{kind or 'remote'} server: mcpwrap wraps stdio servers only"
        return entry
    if kind not in (None, "stdio"):
        entry.state = "remote"
        entry.note = f"type {kind!r} is not stdio: left alone"
        return entry
    command, args = v.get("command"), v.get("args", [])
    if not isinstance(command, str) or not command:
        raise _shape_error(cf, f"{where}.{name}.command", "a non-empty string")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise _shape_error(cf, f"{where}.{name}.args", "a list of strings")
    wrapped = parse_wrapped(command, args)
    if wrapped is not None:
        entry.state, entry.wrapped = "wrapped", wrapped
        return entry
    tool = other_wrapper(command, args)
    if tool:
        entry.state, entry.note = "other", f"already wrapped by {tool}: not wrapped again"
    return entry


def scan(cf: ConfigFile, text: str) -> tuple[Node, list[Entry]]:
    """Parse a config file and classify every server in it (raises ClientConfigError on bad JSON or shape)."""
    try:
        root = parse(text, _descend(cf), jsonc=cf.jsonc)
    except JsonSyntaxError as exc:
        raise ClientConfigError(f"{cf.path}: not valid JSON: {exc}; not modified") from None
    if not isinstance(root.value, dict):
        raise _shape_error(cf, "the document", "a JSON object")
    entries: list[Entry] = []
    key = cf.servers_key

    def collect(container: Node, scope: str, project: str | None, where: str) -> None:
        m = container.member(key)
        if m is None:
            return
        if not isinstance(m.node.value, dict):
            raise _shape_error(cf, f"{where}{key}", "an object of servers")
        for member in m.node.members or ():
            entries.append(_classify(cf, scope, project, m.node, member, f"{where}{key}"))

    collect(root, cf.scope, cf.project, "")
    if cf.claude_state:
        projects = root.member("projects")
        if projects is not None:
            if not isinstance(projects.node.value, dict):
                raise _shape_error(cf, "projects", "an object keyed by project directory")
            for pm in projects.node.members or ():
                if not isinstance(pm.node.value, dict):
                    raise _shape_error(cf, f"projects[{pm.key!r}]", "an object")
                collect(pm.node, "local", pm.key, f"projects[{pm.key!r}].")
    return root, entries


# --- plans -----------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary: what happened (or would happen) to one server."""

    client: str
    scope: str
    project: str | None
    server: str
    before: str
    after: str
    action: str  # "wrapped", "restored", "unchanged", "skipped"
    note: str = ""
    file: str = ""


@dataclass
class Selection:
    scopes: frozenset[str] = frozenset(SCOPES)
    servers: frozenset[str] | None = None
    projects: frozenset[str] | None = None  # local scope: only these project keys (resolved paths)

    def wants(self, entry: Entry) -> bool:
        if entry.scope not in self.scopes:
            return False
        if self.servers is not None and entry.name not in self.servers:
            return False
        if entry.scope == "local" and self.projects is not None:
            return _same_dir(entry.project or "") in self.projects
        return True


def _same_dir(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _row(entry: Entry, after: str, action: str, note: str = "") -> Row:
    return Row(
        entry.file.client, entry.scope, entry.project, entry.name, entry.command_line(), after, action,
        note or entry.note, str(entry.file.path),
    )


def _default_layout(text: str, entry: Node) -> ArrayLayout:
    multiline, lead, unit = member_layout(text, entry)
    if multiline:
        indent = lead.lstrip("\r\n")
        return ArrayLayout(True, item_indent=indent + unit, close_indent=indent, newline=lead[: len(lead) - len(indent)])
    return ArrayLayout(False)


def _wrap_edits(text: str, entry: Entry, spec: WrapSpec, record_text: bool) -> list[Edit]:
    node = entry.node
    cmd_m = node.member("command")
    args_m = node.member("args")
    original: dict[str, Any] = {"command": cmd_m.node.value}
    if args_m is not None:
        original["args"] = args_m.node.value
    new_command, new_args = spec.wrapped(entry.name, cmd_m.node.value, list(original.get("args", [])))
    edits = [Edit(cmd_m.node.start, cmd_m.node.end, json.dumps(new_command, ensure_ascii=False))]
    if args_m is not None:
        layout = array_layout(text, args_m.node, fallback=_default_layout(text, node))
        edits.append(Edit(args_m.node.start, args_m.node.end, layout.render(new_args)))
    else:
        edits.append(insert_member(text, node, "args", new_args, after=cmd_m))
    marker: dict[str, Any] = {"original": original}
    if record_text:
        marker["text"] = {"command": text[cmd_m.node.start : cmd_m.node.end]}
        if args_m is not None:
            marker["text"]["args"] = text[args_m.node.start : args_m.node.end]
    edits.append(insert_member(text, node, MARKER, marker))
    return edits


def _unwrap_edits(text: str, entry: Entry) -> list[Edit]:
    node = entry.node
    w = entry.wrapped
    assert w is not None
    cmd_m, args_m, marker_m = node.member("command"), node.member("args"), node.member(MARKER)
    marker = marker_m.node.value if marker_m is not None else None
    original = marker.get("original") if isinstance(marker, dict) else None
    recorded = (
        isinstance(original, dict)
        and original.get("command") == w.command
        and (original.get("args", []) == w.args)
    )
    raw = marker.get("text") if recorded and isinstance(marker.get("text"), dict) else {}
    edits = [Edit(cmd_m.node.start, cmd_m.node.end, raw.get("command") or json.dumps(w.command, ensure_ascii=False))]
    if recorded and "args" not in original:
        edits.append(remove_member(text, node, args_m))
    else:
        layout = array_layout(text, args_m.node, fallback=_default_layout(text, node))
        edits.append(Edit(args_m.node.start, args_m.node.end, raw.get("args") or layout.render(w.args)))
    if marker_m is not None:
        edits.append(remove_member(text, node, marker_m))
    return edits


@dataclass
class FileResult:
    file: ConfigFile
    text: str
    new_text: str
    rows: list[Row]


def plan_enable(cf: ConfigFile, text: str, spec: WrapSpec, selection: Selection) -> FileResult:
    """The new text of a file with every selected stdio server wrapped, and the summary rows."""
    _, entries = scan(cf, text)
    chosen = [e for e in entries if selection.wants(e)]
    todo = [e for e in chosen if e.state == "stdio"]
    edits: list[Edit] = []
    for entry in todo:
        record_text = not _entry_round_trips(cf, text, entry, spec)  # then keep the original JSON text as well
        edits += _wrap_edits(text, entry, spec, record_text)
    new_text = apply_edits(text, edits)
    if todo and not _restores_exactly(cf, text, new_text, {(t.scope, t.project, t.name) for t in todo}):
        # would be a bug in the edit functions: refuse rather than risk the user's file
        raise ClientConfigError(f"{cf.path}: cannot wrap without losing the original formatting; not modified")
    after = {(e.scope, e.project, e.name): e for e in scan(cf, new_text)[1]} if todo else {}
    rows: list[Row] = []
    for entry in chosen:
        if entry.state == "stdio":
            rows.append(_row(entry, after[(entry.scope, entry.project, entry.name)].command_line(), "wrapped"))
        elif entry.state == "wrapped":
            rows.append(_row(entry, "(already wrapped)", "unchanged", "already wrapped by mcpwrap"))
        else:
            rows.append(_row(entry, "(not wrapped)", "skipped"))
    return FileResult(cf, text, new_text, rows)


def _entry_round_trips(cf: ConfigFile, text: str, entry: Entry, spec: WrapSpec) -> bool:
    """Would disable give back this entry's exact text from the values alone?

    Checked on the entry by itself (preceded by its line's indentation, which is all the layout functions look
    at), so that a large file is not parsed again for every server.
    """
    from dataclasses import replace

    sub = line_indent(text, entry.node.start) + text[entry.node.start : entry.node.end]
    shallow = lambda path: len(path) <= 1  # noqa: E731 - the entry and its members' values
    node = parse(sub, shallow, jsonc=cf.jsonc)
    wrapped_sub = apply_edits(sub, _wrap_edits(sub, replace(entry, node=node), spec, record_text=False))
    wnode = parse(wrapped_sub, shallow, jsonc=cf.jsonc)
    w = parse_wrapped(wnode.value.get("command"), wnode.value.get("args"))
    if w is None:  # pragma: no cover - the wrapped form always parses
        return False
    restored = apply_edits(wrapped_sub, _unwrap_edits(wrapped_sub, replace(entry, node=wnode, wrapped=w, state="wrapped")))
    return restored == sub


def _restores_exactly(cf: ConfigFile, original: str, wrapped: str, keys: set) -> bool:
    _, entries = scan(cf, wrapped)
    edits = [e for entry in entries if (entry.scope, entry.project, entry.name) in keys for e in _unwrap_edits(wrapped, entry)]
    return apply_edits(wrapped, edits) == original


def plan_disable(cf: ConfigFile, text: str, selection: Selection) -> FileResult:
    """The new text of a file with every selected mcpwrap-wrapped server restored, and the summary rows."""
    _, entries = scan(cf, text)
    chosen = [e for e in entries if selection.wants(e)]
    todo = [e for e in chosen if e.state == "wrapped"]
    new_text = apply_edits(text, [e for entry in todo for e in _unwrap_edits(text, entry)])
    after = {(e.scope, e.project, e.name): e for e in scan(cf, new_text)[1]} if todo else {}
    rows: list[Row] = []
    for entry in chosen:
        if entry.state == "wrapped":
            rows.append(_row(entry, after[(entry.scope, entry.project, entry.name)].command_line(), "restored"))
        else:
            rows.append(_row(entry, "(not wrapped)", "unchanged", "not wrapped by mcpwrap"))
    return FileResult(cf, text, new_text, rows)
