"""The servers of one configuration file, classified: stdio (wrappable), wrapped by mcpwrap, stale (wrapped
by an mcpwrap that is gone), a look-alike (it looks wrapped but does not run mcpwrap), remote, or launched
through another security wrapper — and the wrapped form itself.

A wrapped entry keeps every key of the original and changes two values only::

    "command": "<abs path of mcpwrap>",
    "args": ["wrap", "--name", "<server>", "--policy", "<file>", "--", "<original command>", <original args>…],
    "x-mcpwrap": {"original": {"command": …, "args": …}}

The command is absolute because some clients (Claude Desktop) start servers without the user's PATH
(:func:`mcpwrap._clients.install.launcher`). :func:`parse_wrapped` recognises the form by its command line —
the console script or ``python -m mcpwrap`` followed by ``wrap`` and options ``mcpwrap wrap`` itself accepts —
so an entry stays recognised when a client drops the ``x-mcpwrap`` member or the user edits it by hand; then
:func:`mcpwrap._clients.install.judge` checks that the command really is mcpwrap (anything can be named
``mcpwrap``), resolved as the client resolves it. An entry launched through
another wrapper or gateway (:data:`OTHER_WRAPPERS`) is reported and left alone: wrapping a wrapper would audit
and filter the wrong side of it.

:func:`scan` parses a file with the surgical JSON parser (:mod:`mcpwrap._clients.jsonedit`), descending only
where servers live, and refuses a shape it does not understand (naming the place) rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._errors import ClientConfigError
from .install import Judgement, judge, launcher, loader_variables
from .jsonedit import JsonSyntaxError, Member, Node, parse
from .locations import ConfigFile

__all__ = [
    "MARKER",
    "OTHER_WRAPPERS",
    "REMOTE_TYPES",
    "WrapSpec",
    "Wrapped",
    "Entry",
    "launcher",  # re-exported from mcpwrap._clients.install
    "parse_wrapped",
    "other_wrapper",
    "scan",
]

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


@dataclass(frozen=True)
class WrapSpec:
    launcher: tuple[str, ...]
    policy: str | None = None
    audit_log: str | None = None

    def repointed(self, command: str, args: list) -> tuple[str, list]:
        """A wrapped entry's command line started by this launcher instead (its wrap options kept)."""
        rest = args[2:] if args[:2] == ["-m", "mcpwrap"] else args
        return self.launcher[0], [*self.launcher[1:], *rest]

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
    # "stdio" (wrappable), "wrapped" (by mcpwrap), "stale" (wrapped, its mcpwrap gone), "lookalike" (looks
    # wrapped, is not mcpwrap: wrappable), "remote" (http/sse), "other" (another wrapper)
    state: str
    note: str = ""
    wrapped: Wrapped | None = None
    judgement: Judgement | None = None

    @property
    def wrappable(self) -> bool:
        return self.state in ("stdio", "lookalike")

    @property
    def ours(self) -> bool:
        """Wrapped by mcpwrap's enable (disable restores it), whether or not that mcpwrap still exists."""
        return self.state in ("wrapped", "stale")

    @property
    def launcher_command(self) -> tuple[str, ...]:
        v = self.value
        args = v.get("args") or []
        return (v["command"], "-m", "mcpwrap") if args[:2] == ["-m", "mcpwrap"] else (v["command"],)

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


def _classify(
    cf: ConfigFile, scope: str, project: str | None, servers: Node, member: Member, where: str, trusted: tuple[str, ...]
) -> Entry:
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
        # Claude Code (and the others) start project and local servers in the project directory
        cwd = project if scope in ("project", "local") else None
        verdict = judge(command, args, project=cwd, env=v.get("env"), trusted=trusted)
        entry.wrapped, entry.judgement = wrapped, verdict
        if verdict.state == "genuine":
            entry.state = "wrapped"
            risky = loader_variables(v.get("env"))
            notes = [verdict.reason] if verdict.reason else []
            if risky:
                notes.append(f"its env sets {', '.join(risky)}, which can change the code that runs inside mcpwrap")
            entry.note = "; ".join(notes)
        elif verdict.state == "stale":
            entry.state, entry.note = "stale", f"wrapped, but {verdict.reason}: the server cannot start"
        else:
            entry.state, entry.note = "lookalike", f"looks wrapped but is not mcpwrap ({verdict.reason})"
        return entry
    tool = other_wrapper(command, args)
    if tool:
        entry.state, entry.note = "other", f"already wrapped by {tool}: not wrapped again"
    return entry


def scan(cf: ConfigFile, text: str, *, trusted: tuple[str, ...] = ()) -> tuple[Node, list[Entry]]:
    """Parse a config file and classify every server in it (raises ClientConfigError on bad JSON or shape).

    ``trusted``: launcher commands counted as mcpwrap without looking (the one ``enable`` writes)."""
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
            entries.append(_classify(cf, scope, project, m.node, member, f"{where}{key}", trusted))

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
