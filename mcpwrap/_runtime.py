"""One wrapped server: build the session, the chain and the audit log, run the relay, reload on change.

This is the composition root of ``mcpwrap wrap``. The server is spawned first: it boots while mcpwrap loads
its policy and opens the audit log, so that work costs the client nothing; no message is read before the
chain is in place. A reload (SIGHUP, or a change of the policy file or of the overrides file that approvals
write) reconfigures the same chain: interceptors keep what they learned, and an invalid file keeps the
previous policy everywhere (:meth:`mcpwrap._chain.Chain.configure` is all or nothing).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._errors import AuditError, McpwrapError
from ._log import error, info
from ._paths import default_audit_path, overrides_path, resolve_policy_path
from ._wrapargs import DEFAULT_MAX_MESSAGE_BYTES, WrapOptions

if TYPE_CHECKING:
    from ._audit.writer import AuditLog
    from ._message import Session
    from ._relay.relay import Relay
    from .interceptors import InterceptorFactory

__all__ = ["run", "default_subject", "PolicyWatcher", "POLICY_POLL_INTERVAL"]


def default_subject(explicit: str | None = None) -> str:
    """Who is calling: ``--subject``, else ``$MCPWRAP_SUBJECT``, else the OS user."""
    if explicit:
        return explicit
    if os.environ.get("MCPWRAP_SUBJECT"):
        return os.environ["MCPWRAP_SUBJECT"]
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _err(text: str) -> None:
    error(text)


def run(opts: WrapOptions, *, extra: Iterable[InterceptorFactory] = ()) -> int:
    from ._relay import process
    from ._sandbox.wrap import plan_for

    name = opts.name or os.path.basename(opts.command[0])
    # Spawn first, with nothing imported but what spawning needs (the sandbox plan decides how the server
    # starts): the server boots while mcpwrap imports the relay and the chain, loads its policy and opens the
    # audit log, so that work costs the client little. No message is read before the chain is in place.
    sandbox = plan_for(opts.command, name, opts.policy, opts.audit_log)
    child = process.spawn(opts.command, None, sandbox.popen if sandbox is not None else None)
    try:
        from ._message import Session
        from ._relay.relay import Relay

        session = Session(session_id=os.urandom(8).hex(), server=name, subject=default_subject(opts.subject), roles=tuple(opts.roles))
        relay = Relay(opts.command, session, max_message_bytes=opts.max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES, sandbox=sandbox)
        relay.start(child)
    except BaseException:
        process.kill_and_reap(child)
        raise
    try:
        audit, watcher = _prepare(relay, session, opts, tuple(extra))
    except BaseException:
        relay.abort()
        raise
    try:
        return relay.run()
    finally:
        watcher.stop()
        relay.sandbox.close()
        audit.close()


def _prepare(relay: Relay, session: Session, opts: WrapOptions, extra: tuple[InterceptorFactory, ...]) -> tuple[AuditLog, PolicyWatcher]:
    from ._audit.writer import AuditLog
    from .interceptors import build_chain, load_policy

    policy_path = resolve_policy_path(opts.policy)
    # Watch from before the first load, so an edit made while it loads is not missed. A change of the policy
    # file (or of the overrides file that approvals write) reloads like SIGHUP.
    watcher = PolicyWatcher([p for p in (policy_path, str(overrides_path())) if p], lambda: reload())
    config = load_policy(policy_path)
    if policy_path is None:
        info("no policy file: using the built-in default (ordinary traffic allowed, detectors on); "
             "`mcpwrap policy init` writes one to edit")
    audit_path = opts.audit_log or config["audit"].path or str(default_audit_path())
    audit = AuditLog(os.path.expanduser(audit_path), session, config["audit"])
    if audit.failed and audit.on_failure == "block":
        # A log that cannot even be opened is a set-up mistake: say so and stop, before any traffic. (Failures
        # later in a session follow audit.on_failure: block answers, or warn and continue.)
        audit.close()
        raise AuditError(f"{audit.failed} (audit.on_failure: block; fix the path, or pass --audit-log)")
    reload_lock = threading.Lock()  # SIGHUP and the file watcher may fire together: one rebuild at a time

    def reload() -> None:
        with reload_lock:
            try:
                new_config = load_policy(policy_path)
                chain.configure(new_config)
                audit.record("policy-reload", policy=policy_path, ok=True)
                if new_config["sandbox"].for_server(session.server) != relay.sandbox.settings:
                    audit.record("sandbox-not-reloaded", reason="a running server keeps its sandbox; the new one applies at its next start")
                    _err("the sandbox settings changed: they apply when the server next starts")
                info(f"policy reloaded from {policy_path or 'built-in default'}")
            except McpwrapError as exc:
                audit.record("policy-reload", policy=policy_path, ok=False, reason=str(exc))
                _err(f"policy reload failed, keeping the previous policy: {exc}")
            try:
                audit.flush()
            except McpwrapError as exc:
                _err(str(exc))

    _confirm_sandbox(relay, config, opts, session.server)
    relay.sandbox.attach(audit.record)
    scanner = relay.sandbox.scanner if relay.sandbox is not None else None
    chain = build_chain(config, session, audit, extra=extra, sandbox_denials=scanner.scan if scanner is not None else None)
    relay.chain = chain
    relay.audit = audit
    relay.on_reload = reload
    watcher.start()
    return audit, watcher


def _confirm_sandbox(relay: Relay, config: Any, opts: WrapOptions, server: str) -> None:
    """Restart the server when the loaded policy asks for another sandbox than it was started with (before
    any message reached it: no message is read before the chain is in place)."""
    from ._sandbox.wrap import confirm

    replacement = confirm(relay.sandbox, config, opts.command, server, opts.policy, opts.audit_log)
    if replacement is not None:
        relay.abort()
        relay.sandbox.close()
        replacement.report.notes.append("restarted: the policy asked for another sandbox than the quick read found")
        relay.sandbox = replacement
        relay.start()


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
