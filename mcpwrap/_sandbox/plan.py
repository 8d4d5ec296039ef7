"""``prepare`` → a :class:`SandboxPlan`: what the wrapped server gets, and the means to start it so.

    plan = prepare(command, env, cwd, settings.for_server(name), name, protect=[policy, audit log, …])
    child = plan.popen(command, stdin=PIPE, stdout=PIPE, start_new_session=True, …)   # like subprocess.Popen
    plan.attach(audit_log.record)      # the "sandbox" record, then every denial the server hits
    …
    plan.close()

The plan is computed in mcpwrap before the fork: the environment without mcpwrap's own variables, the
Landlock rules of the profile (:mod:`mcpwrap._sandbox.profile`), the seccomp program, the namespaces to
create and, for ``network: {hosts}``, the proxy. :attr:`SandboxPlan.report` says what is applied and what is
missing and why, once on stderr (when something is missing) and once in the audit log. Where the kernel
lacks a part, the server starts with the rest, unless ``require: true``, which refuses instead
(:class:`SandboxUnavailable`).

Invariants: mcpwrap's own files are never granted (not even by the policy's ``allow_*``); nothing named
``MCPWRAP_*`` reaches the server's environment; the server's stderr reaches mcpwrap's through a pipe.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .._errors import McpwrapError
from . import _linux, landlock, seccomp
from .denials import DenialScanner, StderrRelay
from .launch import PROXY_PORT, Launcher, make_listener_channel, receive_listener
from .profile import (
    CACHES,
    CREATED_CACHES,
    CREDENTIALS,
    DEVICES,
    PROJECT_READ_ONLY,
    READ_ONLY,
    ROOT_CREDENTIALS,
    TEMP_DIRS,
    Grant,
    Limit,
    compile_rules,
    expand,
    mount_aliases,
    pins_for,
    with_resolved,
)
from .settings import ServerSandbox

__all__ = ["prepare", "SandboxPlan", "SandboxReport", "SandboxUnavailable", "ENV_PREFIX", "scrub_environment"]

ENV_PREFIX = "MCPWRAP_"
LISTENER_TIMEOUT = 5.0  # seconds to receive the proxy's listening socket from the child (sent before exec)
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_NO_PROXY_VARS = ("NO_PROXY", "no_proxy")


class SandboxUnavailable(McpwrapError):
    """``sandbox: {require: true}`` and part of the sandbox cannot be applied here."""

    exit_code = 126


class SandboxReport:
    """What one server's sandbox applies, what is missing (``{feature, consequence}``) and why."""

    def __init__(self, server: str, enabled: bool = True) -> None:
        self.server = server
        self.enabled = enabled
        self.platform = sys.platform
        self.applied: dict[str, Any] = {}
        self.missing: list[dict[str, str]] = []
        self.network: dict[str, Any] = {}
        self.notes: list[str] = []
        self.protected: list[str] = []  # mcpwrap's own files, never granted
        self.unprotected: list[str] = []  # protected names that do not exist yet in writable places
        self.timing_ms = 0.0

    @property
    def complete(self) -> bool:
        return self.enabled and not self.missing

    def miss(self, feature: str, consequence: str) -> None:
        self.missing.append({"feature": feature, "consequence": consequence})

    def record(self) -> dict[str, Any]:
        """The fields of the ``sandbox`` audit record."""
        return {
            "server": self.server,
            "enabled": self.enabled,
            "complete": self.complete,
            "platform": self.platform,
            "applied": self.applied,
            "missing": self.missing,
            "network": self.network,
            "notes": self.notes[:20],
            "unprotected": self.unprotected[:20],
        }

    def summary(self) -> str | None:
        """The one stderr line, or None when the sandbox is complete."""
        if not self.enabled:
            return f"sandbox disabled by the policy: {self.server!r} runs with all of this user's access"
        if not self.platform.startswith("linux"):
            return f"not sandboxed: mcpwrap's sandbox needs Linux; {self.server!r} runs with all of this user's access on {self.platform}"
        if not self.missing:
            return None
        parts = "; ".join(f"{m['feature']} ({m['consequence']})" for m in self.missing)
        return f"sandbox for {self.server!r} is partial: {parts}"


def scrub_environment(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The environment without mcpwrap's own variables (the audit key, test hooks, …), and their names."""
    removed = sorted(k for k in env if k.upper().startswith(ENV_PREFIX))
    return {k: v for k, v in env.items() if not k.upper().startswith(ENV_PREFIX)}, removed


class SandboxPlan:
    """Everything needed to start one server sandboxed (see the module docstring)."""

    def __init__(self, settings: ServerSandbox, report: SandboxReport, env: dict[str, str]) -> None:
        self.settings = settings
        self.report = report
        self.env = env
        self.launcher: Launcher | None = None
        self.fallback: Callable[[], Launcher | None] | None = None
        self.scanner: DenialScanner | None = None
        self.limits: list[Limit] = []
        self.grants: list[Grant] = []
        self._record: Callable[..., Any] | None = None
        self._events: list[tuple[str, dict]] = []
        self._proxy: Any = None
        self._listener_channel: Any = None
        self._stderr: StderrRelay | None = None
        self.relay_stderr = True
        self.private_tmp: str | None = None
        # what the plan was made from (mcpwrap/_sandbox/wrap.py compares it with the loaded policy)
        self.settings_source: Any = None
        self.protect_source: list[str] = []

    # --- start ---------------------------------------------------------------------------------------------

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen:
        """``subprocess.Popen`` with the sandbox applied. ``env`` is replaced by the scrubbed one; the server's
        stderr goes through mcpwrap. Raises what Popen raises (FileNotFoundError, …)."""
        kwargs["env"] = self.env
        if self.relay_stderr:
            kwargs["stderr"] = subprocess.PIPE
        report_r, report_w = os.pipe()
        try:
            child = self._spawn(args, kwargs, report_r, report_w)
        finally:
            os.close(report_r)
            if self.launcher is not None:
                self._close_parent_side()
        self._after_start(child)
        return child

    def _spawn(self, args: list[str], kwargs: dict, report_r: int, report_w: int) -> subprocess.Popen:
        launcher = self.launcher
        while True:
            if launcher is None:
                os.close(report_w)
                return subprocess.Popen(args, **kwargs)
            launcher.report_fd = report_w
            launcher.argv = list(args)
            launcher.env = kwargs.get("env")
            try:
                child = subprocess.Popen(args, preexec_fn=launcher.preexec, **kwargs)
            except subprocess.SubprocessError:
                child = None  # the sandbox failed in the child (a missing command raises OSError instead)
            if child is not None:
                os.close(report_w)
                # The namespace's init started the server itself: its exec failure (if any) is in the report.
                report = _read_all(report_r).strip()
                if report.startswith("exec:"):
                    child.wait()
                    code = int(report[5:])
                    raise OSError(code, os.strerror(code), args[0])
                return child
            os.set_blocking(report_r, False)
            try:
                why = os.read(report_r, 4096).decode("utf-8", "replace").strip()
            except OSError:
                why = ""
            why = why or "the sandbox could not be applied"
            if self.fallback is None or not why.startswith("namespaces:"):
                os.close(report_w)
                raise McpwrapError(f"cannot start the server sandboxed: {why}") from None
            # Namespaces refused at spawn (the probe is skipped for speed): start with what remains.
            fallback, self.fallback = self.fallback, None
            if launcher.ruleset is not None:
                launcher.ruleset.close()
            self.report.notes.append(f"namespaces refused at start: {why}")
            launcher = fallback()
            self.launcher = launcher
            if self.settings.require:
                os.close(report_w)
                raise SandboxUnavailable(f"sandbox required but unavailable: {why}") from None

    def _close_parent_side(self) -> None:
        launcher = self.launcher
        assert launcher is not None
        if launcher.ruleset is not None:
            launcher.ruleset.close()
        if launcher.proxy_channel is not None:
            launcher.proxy_channel.close()

    def _after_start(self, child: subprocess.Popen) -> None:
        if self.relay_stderr and child.stderr is not None:
            fd = os.dup(child.stderr.fileno())
            child.stderr.close()
            child.stderr = None  # the relay thread owns the pipe now
            self._stderr = StderrRelay(fd, self.scanner)
            self._stderr.start()
        if self._listener_channel is not None:
            listener = receive_listener(self._listener_channel, LISTENER_TIMEOUT)
            self._listener_channel.close()
            self._listener_channel = None
            if listener is None:
                self.report.miss("network proxy", "no listener from the server's namespace: no host is reachable")
            else:
                from .proxy import Proxy

                self._proxy = Proxy(listener, self.settings.hosts, self._network_denied)
                self._proxy.start()
        line = self.report.summary()
        if line:
            _stderr(line)

    # --- audit -------------------------------------------------------------------------------------------------

    def attach(self, record: Callable[..., Any]) -> None:
        """Send the ``sandbox`` record, then every denial (past and future) to ``record(event, **fields)``."""
        self._record = record
        record("sandbox", **self.report.record())
        events, self._events = self._events, []
        for event, fields in events:
            record(event, **fields)
        if self.scanner is not None:
            self.scanner.attach(lambda fields: record("sandbox-denied", server=self.report.server, **fields))

    def _emit(self, event: str, fields: dict) -> None:
        if self._record is None:
            self._events.append((event, fields))
        else:
            self._record(event, **fields)

    def _network_denied(self, host: str, port: int, via: str) -> None:
        fields = {"server": self.report.server, "host": host, "port": port, "access": "connect", "via": via}
        self._emit("sandbox-denied", {**fields, "denied_by": "network.hosts", "source": "proxy"})

    def classify(self, path: str) -> str | None:
        """Which part of the profile keeps ``path`` from the server, or None when the profile allows it."""
        for lim in self.limits:
            if path == lim.path or path.startswith(lim.path.rstrip("/") + "/"):
                return lim.reason if lim.allowed == 0 else f"{lim.reason} (write)"
        if not any(path == g.path or g.path == "/" or path.startswith(g.path + "/") for g in self.grants):
            return "outside the profile"
        return None

    def close(self, timeout: float = 1.0) -> None:
        if self._proxy is not None:
            self._proxy.close()
        if self._stderr is not None:
            self._stderr.join(timeout)
        if self.private_tmp is not None:
            import shutil

            shutil.rmtree(self.private_tmp, ignore_errors=True)
            self.private_tmp = None


def _read_all(fd: int) -> str:
    """Everything written to a pipe until every writer closed it."""
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not data:
            return b"".join(chunks).decode("utf-8", "replace")
        chunks.append(data)


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(f"mcpwrap: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# --- building the plan ---------------------------------------------------------------------------------------


def prepare(
    command: list[str],
    env: dict[str, str] | None,
    cwd: str | None,
    settings: ServerSandbox,
    server: str,
    *,
    protect: list[str] = (),  # type: ignore[assignment]
    create: list[str] = (),  # type: ignore[assignment]
    use_namespaces: bool = True,
) -> SandboxPlan:
    """The plan for one server (see the module docstring). Raises :class:`SandboxUnavailable` when the settings
    require a sandbox this system cannot give."""
    started = time.perf_counter()
    base_env = dict(os.environ if env is None else env)
    child_env, removed = scrub_environment(base_env)
    report = SandboxReport(server=server, enabled=settings.enabled)
    report.applied["environment"] = {"removed": removed}
    plan = SandboxPlan(settings, report, child_env)
    _make_dumpable_off()
    if not settings.enabled:
        plan.relay_stderr = False
        return plan
    if not sys.platform.startswith("linux"):
        consequence = "the server runs with all of this user's access (no sandbox on this platform)"
        if settings.require:
            raise SandboxUnavailable(f"sandbox required, but there is none on {sys.platform}")
        report.miss("sandbox", consequence)
        return plan
    _build_linux(plan, command, base_env, cwd or os.getcwd(), protect, create, use_namespaces)
    report.timing_ms = round((time.perf_counter() - started) * 1000, 3)
    if settings.require and report.missing:
        raise SandboxUnavailable("sandbox required but partial here: " + "; ".join(m["feature"] for m in report.missing))
    return plan


def _make_dumpable_off() -> None:
    """mcpwrap itself becomes non-dumpable: other processes of this user cannot ptrace it or open its
    /proc/<pid>/{fd,environ,mem} (root still can)."""
    if sys.platform.startswith("linux"):
        try:
            _linux.prctl(_linux.PR_SET_DUMPABLE, 0)
        except OSError:
            pass


_PSEUDO_FS = ("/proc/", "/sys/", "/dev/")
_RELOCATING = tuple(p[1:] for p in CREDENTIALS if p.startswith("$"))


def _homes(home: str) -> list[str]:
    """``home`` and the person's own home directory (from the password database, and mcpwrap's HOME) when they
    differ: a server given another HOME must still not read the real one's stores."""
    out = [home]
    candidates = [os.environ.get("HOME", "")]
    try:
        import pwd

        candidates.append(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError):
        pass
    for h in candidates:
        if h and os.path.isabs(h) and os.path.normpath(h) not in (os.path.normpath(x) for x in out) and h != "/":
            out.append(os.path.normpath(h))
    return out


def _build_linux(plan: SandboxPlan, command: list[str], env: dict[str, str], cwd: str, protect: list[str], create: list[str], use_ns: bool) -> None:
    settings, report = plan.settings, plan.report
    home = env.get("HOME") or os.path.expanduser("~")
    cwd = os.path.abspath(cwd)
    abi = landlock.abi_version()

    # --- what is protected ---
    # mcpwrap's files must exist before the rules are made: Landlock protects inodes, and a file mcpwrap
    # creates later beside the server's writable places would otherwise be the server's to read (or to plant).
    for p in create:
        _precreate(p)
    limits: list[Limit] = []
    protected = with_resolved([os.path.abspath(os.path.expanduser(p)) for p in protect if p])
    report.protected = protected
    for p in protected:
        limits.append(Limit(p, 0, "mcpwrap", overridable=False))
    for pattern in settings.deny:
        for p in with_resolved(expand(pattern, home, env)):
            limits.append(Limit(p, 0, "policy", overridable=False))
    for pattern in settings.deny_write:
        for p in with_resolved(expand(pattern, home, env)):
            limits.append(Limit(p, landlock.READ, "policy (write)", overridable=False))
    # The person's stores wherever they are: under the HOME the server is given, the person's own home (a client
    # may give the server another HOME), and where either environment moves them (KUBECONFIG, GNUPGHOME, …).
    homes = _homes(home)
    envs = [env] if all(os.environ.get(k) == env.get(k) for k in _RELOCATING) else [env, dict(os.environ)]
    for pattern in CREDENTIALS + (ROOT_CREDENTIALS if os.geteuid() == 0 else ()):
        for h in homes:
            for e in envs if pattern.startswith("$") else envs[:1]:  # only a $VARIABLE can differ between them
                for p in with_resolved(expand(pattern, h, e)):
                    limits.append(Limit(p, 0, "credentials"))
    for pattern in READ_ONLY:
        for h in homes:
            for p in with_resolved(expand(pattern, h, env)):
                limits.append(Limit(p, landlock.READ, "read-only"))
    limits.append(Limit("/dev", 0, "device"))
    if "PATH" in env:  # nothing on the PATH may be replaced: it runs later as the person
        for d in env["PATH"].split(os.pathsep):
            if os.path.isabs(d) and os.path.isdir(d):
                limits.append(Limit(os.path.normpath(d), landlock.READ, "read-only"))

    # --- what is granted ---
    grants: list[Grant] = [Grant("/", landlock.READ, "system")]
    write_dirs: list[str] = []
    if cwd != "/":
        grants.append(Grant(cwd, landlock.WRITE, "cwd"))
        write_dirs.append(cwd)
    else:
        report.notes.append("working directory is /: read only")
    for pattern in TEMP_DIRS:
        for p in expand(pattern, home, env):
            grants.append(Grant(p, landlock.WRITE, "temp", override=p == "/dev/shm"))
    for pattern in CREATED_CACHES:
        for p in expand(pattern, home, env):
            if not os.path.exists(p) and os.path.isdir(os.path.dirname(p)):
                try:
                    os.mkdir(p, 0o700)
                except OSError:
                    pass
    for pattern in CACHES:
        for p in expand(pattern, home, env):
            grants.append(Grant(p, landlock.WRITE, "cache"))
    for p in DEVICES:
        grants.append(Grant(p, landlock.DEVICE, "device", override=True))
    for arg in _path_arguments(command[1:], cwd):
        if arg in ("/", home) or home.startswith(arg + "/"):
            report.notes.append(f"argument {arg} covers the whole home or system: read only")
            continue
        grants.append(Grant(arg, landlock.WRITE, "argument"))
        if os.path.isdir(arg):
            write_dirs.append(arg)
    for pattern in settings.allow_read:
        for p in expand(pattern, home, env):
            grants.append(Grant(p, landlock.READ, "policy", override=True))
    for pattern in settings.allow_write:
        for p in expand(pattern, home, env):
            grants.append(Grant(p, landlock.WRITE, "policy", override=True))

    # project files in every writable project directory (and the working directory's ancestors up to HOME)
    project_dirs = set(write_dirs)
    d = cwd
    while d not in ("/", os.path.dirname(home)) and (d == home or d.startswith(home + "/")):
        project_dirs.add(d)
        d = os.path.dirname(d)
    for pdir in sorted(project_dirs):
        for name in PROJECT_READ_ONLY:
            p = os.path.join(pdir, name)
            if os.path.lexists(p):
                for q in with_resolved([p]):
                    limits.append(Limit(q, landlock.READ, "read-only"))
            elif pdir in write_dirs and not name.startswith(".git/"):
                report.unprotected.append(p)

    # bind mounts of protected directories elsewhere
    hard = [lim for lim in limits if lim.reason != "device"]
    for path, aliases in mount_aliases([lim.path for lim in hard if os.path.exists(lim.path)]).items():
        lim = next(x for x in hard if x.path == path)
        for alias in aliases:
            limits.append(Limit(alias, lim.allowed, lim.reason, lim.overridable))
            report.notes.append(f"{path} is also mounted at {alias}: protected there too")
    for lim in limits:
        if lim.allowed == 0 and os.path.isfile(lim.path):
            try:
                if os.stat(lim.path).st_nlink > 1:
                    report.notes.append(f"{lim.path} has {os.stat(lim.path).st_nlink} hard links: the other names are not protected")
            except OSError:
                pass
    _private_tmpdir(plan, grants, limits, env)
    plan.limits, plan.grants = limits, grants
    plan.scanner = DenialScanner(plan.classify, cwd, home)

    # --- Landlock ---
    # With a mount namespace, a read-only path inside a writable place becomes a read-only bind mount (plus
    # pins on the directories holding it), instead of splitting the writable place: the server can still
    # create files beside it. Without one, Landlock splits (see profile.py).
    writable = [g for g in grants if g.rights & landlock.FS.MAKE_REG]
    # Never a link, nor a place a link could lead into that is not a file system of files (a link a server
    # planted in an earlier session, ".vscode -> /proc/2/task", must not steer this session's mounts).
    ro_mounts = sorted({
        os.path.realpath(lim.path) for lim in limits
        if lim.allowed == landlock.READ and lim.reason == "read-only" and os.path.exists(lim.path) and not os.path.islink(lim.path)
        and not os.path.realpath(lim.path).startswith(_PSEUDO_FS)
        and any(lim.path != g.path and (g.path == "/" or lim.path.startswith(g.path.rstrip("/") + "/")) for g in writable)
    })
    ns_limits = [lim for lim in limits if not (lim.reason == "read-only" and os.path.exists(lim.path) and os.path.realpath(lim.path) in ro_mounts)]
    for path in ro_mounts:
        ns_limits.extend(pins_for(path))
    rules_by_ns = {}
    if abi >= 1:
        rules_by_ns[True] = compile_rules(grants, ns_limits) if use_ns else None
        rules_by_ns[False] = None  # compiled when the fallback is taken
    rules = rules_by_ns.get(True) if use_ns else (compile_rules(grants, limits) if abi >= 1 else None)
    if rules is not None:
        report.notes.extend(rules.notes)
        report.applied["landlock"] = {"abi": abi, "rules": len(rules.rules)}
        if ro_mounts and use_ns:
            report.applied["read_only_mounts"] = ro_mounts
        if abi < 2:
            report.notes.append("Landlock ABI 1: files cannot be renamed or linked across directories")
        if abi < 3:
            report.miss("Landlock truncate (ABI 3)", "protected files can be truncated")
        if abi < 6:
            report.miss("Landlock scopes (ABI 6)", "without a PID namespace the server could signal mcpwrap")
    else:
        report.miss("Landlock", "no file access control: the server can read credentials and mcpwrap's files")

    def make_ruleset(with_ns: bool) -> landlock.Ruleset | None:
        if abi < 1:
            return None
        rules = rules_by_ns.get(True) if with_ns else compile_rules(grants, limits)
        assert rules is not None
        if not with_ns:
            report.applied.get("landlock", {})["rules"] = len(rules.rules)
            report.applied.pop("read_only_mounts", None)
        # In a network namespace the namespace is the network boundary; without one, Landlock refuses every
        # TCP bind and connect when the network is limited (ABI 4; UDP is not covered).
        handled_net = landlock.NET_BIND_TCP | landlock.NET_CONNECT_TCP if settings.network != "allow" and not with_ns else 0
        ruleset = landlock.Ruleset.create(
            landlock.fs_rights(abi), handled_net, landlock.SCOPE_SIGNAL | landlock.SCOPE_ABSTRACT_UNIX_SOCKET, abi=abi
        )
        for path, rights in rules.rules.items():
            ruleset.allow_path(path, rights, follow=False, is_dir=rules.kinds[path])
        info = report.applied["landlock"]
        info["tcp"] = bool(ruleset.handled_net)
        scopes = (("signals", landlock.SCOPE_SIGNAL), ("abstract-unix-sockets", landlock.SCOPE_ABSTRACT_UNIX_SOCKET))
        info["scoped"] = [name for name, bit in scopes if ruleset.scoped & bit]
        return ruleset

    # --- seccomp ---
    program = None
    if seccomp.available():
        limit_network = settings.network != "allow"
        program = seccomp.build_filter(deny_unix_sockets=not settings.unix_sockets, limit_network=limit_network)
        report.applied["seccomp"] = (
            (["unix-socket-connect", "unix-datagram-pairs"] if not settings.unix_sockets else [])
            + ["keyrings", "io_uring"]
            + (["vsock", "mptcp"] if limit_network else [])
        )
    else:
        report.miss("seccomp", f"no filter for {_linux.MACHINE}: local sockets (ssh-agent, D-Bus) stay reachable")
    report.applied["no_new_privs"] = True
    report.applied["capabilities"] = "dropped"

    # --- network ---
    mode = settings.network
    report.network = {"mode": mode}
    if mode == "hosts":
        report.network["hosts"] = [str(h) for h in settings.hosts]

    def launcher(with_ns: bool) -> Launcher:
        flags = 0
        channel = None
        if with_ns:
            flags = _linux.CLONE_NEWUSER | _linux.CLONE_NEWNS | _linux.CLONE_NEWPID | _linux.CLONE_NEWIPC
            if mode != "allow":
                flags |= _linux.CLONE_NEWNET
            if mode == "hosts":
                plan._listener_channel, channel = make_listener_channel()
        return Launcher(
            ruleset=make_ruleset(with_ns),
            seccomp_program=program,
            namespaces_flags=flags,
            new_proc=with_ns,
            loopback=with_ns and mode != "allow",
            proxy_channel=channel,
            report_fd=-1,
            drop_caps=True,
            read_only_mounts=tuple(ro_mounts) if with_ns else (),
        )

    def without_namespaces() -> Launcher:
        report.applied.pop("namespaces", None)
        report.miss("namespaces", "user namespaces refused: the server sees other processes in /proc" + (
            "; network limited by Landlock TCP rules only (UDP stays open)" if mode != "allow" else ""))
        if mode != "allow":
            report.network["enforced_by"] = "landlock-tcp" if abi >= 4 else "none"
            if abi < 4:
                report.miss("network limits", "no network namespace and no Landlock TCP rules: the network is open")
            elif mode == "hosts":
                report.notes.append("without a network namespace no host is reachable (all TCP refused)")
        if plan._listener_channel is not None:
            plan._listener_channel.close()
            plan._listener_channel = None
        return launcher(False)

    if use_ns:
        plan.launcher = launcher(True)
        plan.fallback = without_namespaces
        report.applied["namespaces"] = ["user", "pid", "mount", "ipc"] + (["net"] if mode != "allow" else [])
        if mode == "hosts":
            env_proxy = f"http://127.0.0.1:{PROXY_PORT}"
            for var in _PROXY_VARS:
                plan.env[var] = env_proxy if "all" not in var.lower() else f"socks5h://127.0.0.1:{PROXY_PORT}"
            for var in _NO_PROXY_VARS:
                plan.env.pop(var, None)
            report.network["enforced_by"] = "network namespace + proxy"
        elif mode == "deny":
            report.network["enforced_by"] = "network namespace"
    else:
        plan.launcher = without_namespaces()


def _precreate(path: str) -> None:
    """Create a protected path that does not exist yet: a directory (``…/``) or an empty owner-only file (the
    audit log is appended to; an empty file is an empty log). Never follows a symbolic link; a failure leaves
    the path as it is (its owner reports it later)."""
    directory = path.endswith("/")
    path = path.rstrip("/")
    if not path or os.path.lexists(path) or not os.path.isdir(os.path.dirname(path) or "/"):
        return
    try:
        if directory:
            os.makedirs(path, 0o700, exist_ok=True)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
    except OSError:
        pass


def _private_tmpdir(plan: SandboxPlan, grants: list[Grant], limits: list[Limit], env: dict[str, str]) -> None:
    """When a protected path lies inside the temporary directory the server would use, that directory is
    split and the server cannot create files directly in it: give it a private one instead (``TMPDIR``, which
    mktemp, Python's tempfile and Node's os.tmpdir() follow), removed when the session ends."""
    current = os.path.realpath(env.get("TMPDIR") or "/tmp")
    if not any(_is_strictly_beneath(os.path.realpath(lim.path), current) for lim in limits if os.path.lexists(lim.path)):
        return
    import tempfile  # only now: it costs milliseconds to import, on the path to the server's start

    try:
        private = tempfile.mkdtemp(prefix="mcpwrap-server-", dir=current)
    except OSError:
        plan.report.notes.append(f"{current} holds a protected path and no private TMPDIR could be made there")
        return
    grants.append(Grant(private, landlock.WRITE, "temp"))
    plan.env["TMPDIR"] = private
    plan.private_tmp = private
    plan.report.notes.append(f"{current} holds a protected path: the server got a private TMPDIR {private}")


def _is_strictly_beneath(path: str, root: str) -> bool:
    return path != root and path.startswith(root.rstrip("/") + "/")


def _path_arguments(args: list[str], cwd: str) -> list[str]:
    """Arguments that name existing files or directories (also ``--flag=PATH``), made absolute."""
    out = []
    for arg in args:
        candidates = [arg]
        if arg.startswith("-") and "=" in arg:
            candidates = [arg.split("=", 1)[1]]
        elif arg.startswith("-"):
            continue
        for c in candidates:
            if not c or c.startswith("@") or "://" in c:
                continue
            p = os.path.normpath(os.path.join(cwd, os.path.expanduser(c)))
            if os.path.exists(p):
                out.append(p)
    return out

