"""``mcpwrap wrap``: parse options, build the session, chain and audit log, run the relay.

This path is kept lean on purpose: clients start a wrapped server for every session, so ``wrap`` avoids
importing the CLI framework (typer/click/rich cost ~100 ms). Its options are declared once in
:data:`WRAP_OPTIONS`; the typer CLI shows the same table for ``mcpwrap --help``.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError, McpwrapError

if TYPE_CHECKING:
    from .._audit.writer import AuditLog
    from .._message import Session
    from .._relay.relay import Relay

__all__ = ["WRAP_OPTIONS", "WrapOptions", "parse_wrap_args", "wrap_help", "main"]


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


def _subject(opts: WrapOptions) -> str:
    if opts.subject:
        return opts.subject
    if os.environ.get("MCPWRAP_SUBJECT"):
        return os.environ["MCPWRAP_SUBJECT"]
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def resolve_policy_path(explicit: str | None) -> str | None:
    """The policy file ``wrap`` uses: the flag, else ``$MCPWRAP_HOME/policy.yaml`` if present, else None."""
    if explicit:
        return explicit
    from .._config import default_policy_path

    p = default_policy_path()
    return str(p) if p.is_file() else None


def _err(text: str) -> None:
    sys.stderr.write(f"mcpwrap: {text}\n")
    sys.stderr.flush()


def run(opts: WrapOptions) -> int:
    from .._message import Session
    from .._relay.relay import Relay

    name = opts.name or os.path.basename(opts.command[0])
    session = Session(session_id=os.urandom(8).hex(), server=name, subject=_subject(opts), roles=tuple(opts.roles))
    relay = Relay(opts.command, session, max_message_bytes=opts.max_message_bytes or DEFAULT_MAX)
    # Spawn first: the server boots while mcpwrap loads its policy and opens the audit log, so the work below
    # costs the client nothing. No message is read before the chain is in place.
    relay.start()
    try:
        audit, watcher = _prepare(relay, session, opts)
    except BaseException:
        relay.abort()
        raise
    try:
        return relay.run()
    finally:
        watcher.stop()
        audit.close()


def _prepare(relay: "Relay", session: "Session", opts: WrapOptions) -> "tuple[AuditLog, PolicyWatcher]":
    from .._audit.writer import AuditLog
    from .._config import default_audit_path, load_config
    from ..interceptors import build_chain

    from .._policy.engine import overrides_path

    policy_path = resolve_policy_path(opts.policy)
    # Watch from before the first load, so an edit made while it loads is not missed. A change of the policy
    # file (or of the overrides file that approvals write) reloads like SIGHUP.
    watcher = PolicyWatcher([p for p in (policy_path, str(overrides_path())) if p], lambda: reload())
    config = load_config(policy_path)
    if policy_path is None:
        _err("no policy file: using the built-in default (ordinary traffic allowed, detectors on); "
             "`mcpwrap policy init` writes one to edit")
    audit_path = opts.audit_log or config["audit"].path or str(default_audit_path())
    audit = AuditLog(os.path.expanduser(audit_path), session, config["audit"])
    if audit.failed and audit.on_failure == "block":
        # A log that cannot even be opened is a set-up mistake: say so and stop, before any traffic. (Failures
        # later in a session follow audit.on_failure: block answers, or warn and continue.)
        from .._errors import AuditError

        audit.close()
        raise AuditError(f"{audit.failed} (audit.on_failure: block; fix the path, or pass --audit-log)")
    reload_lock = threading.Lock()  # SIGHUP and the file watcher may fire together: one rebuild at a time

    def reload() -> None:
        with reload_lock:
            try:
                new_config = load_config(policy_path)
                relay.chain = build_chain(new_config, session, audit)
                audit.record("policy-reload", policy=policy_path, ok=True)
                _err(f"policy reloaded from {policy_path or 'built-in default'}")
            except McpwrapError as exc:
                audit.record("policy-reload", policy=policy_path, ok=False, reason=str(exc))
                _err(f"policy reload failed, keeping the previous policy: {exc}")
            try:
                audit.flush()
            except McpwrapError as exc:
                _err(str(exc))

    relay.chain = build_chain(config, session, audit)
    relay.audit = audit
    relay.on_reload = reload
    watcher.start()
    return audit, watcher


POLICY_POLL_INTERVAL = 1.0  # seconds between checks of the policy file for changes (mtime, size, inode)


class PolicyWatcher:
    """Polls files and calls ``on_change`` when one changes (written, replaced, created or deleted).

    Polling (not inotify) works on every platform and filesystem, costs one ``stat`` per file per interval,
    and sees atomic replacements (a new inode) as well as in-place writes.
    """

    def __init__(self, paths: list[str], on_change: Any, interval: float = POLICY_POLL_INTERVAL) -> None:
        self.paths = paths
        self.on_change = on_change
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mcpwrap-policy-watch", daemon=True)
        self._stamps = {p: self._stamp(p) for p in paths}

    @staticmethod
    def _stamp(path: str) -> tuple | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def start(self) -> None:
        if self.paths:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            changed = False
            for p in self.paths:
                stamp = self._stamp(p)
                if stamp != self._stamps[p]:
                    self._stamps[p] = stamp
                    changed = True
            if changed:
                try:
                    self.on_change()
                except Exception as exc:  # pragma: no cover - reload reports its own errors; never kill the watcher
                    _err(f"policy reload failed: {type(exc).__name__}: {exc}")


DEFAULT_MAX = 64 * 1024 * 1024


def main(args: list[str]) -> int:
    try:
        opts = parse_wrap_args(args)
        if opts.help:
            sys.stdout.write(wrap_help())
            return 0
        return run(opts)
    except ConfigError as exc:
        _err(f"invalid policy: {exc}")
        return 2
    except McpwrapError as exc:
        _err(str(exc))
        return exc.exit_code
