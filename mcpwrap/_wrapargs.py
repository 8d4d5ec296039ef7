"""The command line of ``mcpwrap wrap``: its options, their parsing and its help text.

Kept apart from the CLI framework on purpose: clients start a wrapped server for every session, so ``wrap``
never imports typer/click/rich (~100 ms). The same grammar recognises a wrapped entry in a client's
configuration file (:mod:`mcpwrap._clients`), and ``mcpwrap --help`` shows the same option table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._errors import McpwrapError

__all__ = ["WRAP_OPTIONS", "WRAP_EXIT_STATUSES", "USAGE", "WrapOptions", "UsageError", "parse_wrap_args", "wrap_help", "DEFAULT_MAX_MESSAGE_BYTES"]

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class _Opt:
    flag: str
    dest: str
    metavar: str
    help: str
    type: type = str
    repeat: bool = False


WRAP_OPTIONS: tuple[_Opt, ...] = (
    _Opt("--policy", "policy", "PATH", "policy file (default: $MCPWRAP_HOME/policy.yaml if it exists, else the built-in default)"),
    _Opt("--audit-log", "audit_log", "PATH", "audit log, JSONL, appended (default: the policy's audit.path, else $MCPWRAP_HOME/audit.jsonl)"),
    _Opt("--name", "name", "NAME", "the server's name, recorded in audit records and matched by rules (default: the command's name)"),
    _Opt("--subject", "subject", "NAME", "who is calling, for rules and audit (default: $MCPWRAP_SUBJECT, else the OS user)"),
    _Opt("--role", "roles", "ROLE", "a role of the subject, in addition to the policy's subjects mapping (repeatable)", repeat=True),
    _Opt("--max-message-bytes", "max_message_bytes", "N", "refuse messages longer than N bytes (default: 67108864 = 64 MiB)", type=int),
)

USAGE = "usage: mcpwrap wrap [OPTIONS] -- COMMAND [ARGS...]"

# What `mcpwrap wrap` exits with (also in `mcpwrap wrap --help` and, through mcpwrap._cli.exitcodes, docs/cli.md).
WRAP_EXIT_STATUSES: tuple[tuple[str, str], ...] = (
    ("n", "the wrapped server's own exit status"),
    ("128+n", "the server was ended by signal n"),
    ("1", "mcpwrap could not run it (e.g. the audit log or its key cannot be used)"),
    ("2", "usage error, or the policy file is invalid"),
    ("126", "the policy requires the sandbox (sandbox.require) and this kernel cannot apply all of it"),
    ("127", "the server command was not found"),
)


def wrap_help() -> str:
    lines = [
        USAGE,
        "",
        "Spawn COMMAND (a stdio MCP server, no shell), relay its stdin/stdout, and pass every message in both",
        "directions through the interceptor chain. Allowed messages are forwarded byte for byte; every decision",
        "is appended to the audit log. Exits with the server's exit status (127: command not found).",
        "",
        "options:",
    ]
    for opt in WRAP_OPTIONS:
        lines.append(f"  {opt.flag} {opt.metavar}".ljust(30) + opt.help)
    lines.append("  -h, --help".ljust(30) + "show this message and exit")
    lines += ["", "exit status:"]
    lines += [f"  {code.ljust(7)} {meaning}" for code, meaning in WRAP_EXIT_STATUSES]
    lines += ["", "environment: MCPWRAP_HOME (default ~/.mcpwrap), MCPWRAP_SUBJECT"]
    return "\n".join(lines) + "\n"


class WrapOptions:
    def __init__(self) -> None:
        self.policy: str | None = None
        self.audit_log: str | None = None
        self.name: str | None = None
        self.subject: str | None = None
        self.roles: list[str] = []
        self.max_message_bytes: int | None = None
        self.command: list[str] = []
        self.help = False


class UsageError(McpwrapError):
    exit_code = 2


def parse_wrap_args(args: list[str]) -> WrapOptions:
    opts = WrapOptions()
    by_flag = {o.flag: o for o in WRAP_OPTIONS}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            opts.command = args[i + 1 :]
            break
        if arg in ("-h", "--help"):
            opts.help = True
            return opts
        if not arg.startswith("-"):
            opts.command = args[i:]
            break
        flag, eq, value = arg.partition("=")
        opt = by_flag.get(flag)
        if opt is None:
            raise UsageError(f"unknown option {flag} (see mcpwrap wrap --help)")
        if not eq:
            i += 1
            if i >= len(args):
                raise UsageError(f"{flag} needs a value ({opt.metavar})")
            value = args[i]
        converted: Any = value
        if opt.type is int:
            try:
                converted = int(value)
            except ValueError:
                raise UsageError(f"{flag} needs a whole number, not {value!r}") from None
            if converted <= 0:
                raise UsageError(f"{flag} must be positive")
        if opt.repeat:
            getattr(opts, opt.dest).append(converted)
        else:
            setattr(opts, opt.dest, converted)
        i += 1
    if not opts.command:
        raise UsageError("no server command given\n" + USAGE)
    return opts
