"""How the sandboxed server is started: the processes between mcpwrap and the server, and what each does.

    mcpwrap ─ Popen ─► P  (new user, mount, PID [, network] namespaces; outside the PID namespace)
                       └─ fork ─► G  (PID 1: mounts /proc, confines itself — no_new_privs, no capabilities,
                                      Landlock, seccomp — reaps, mirrors the exit status)
                                  └─ posix_spawn ─► server (inherits the confinement)

``CLONE_NEWPID`` places the *children* of the caller in the new namespace, so the process ``Popen`` creates
(P) stays outside and waits; its child G is PID 1 there. The server is not PID 1 itself: a namespace's init
receives only signals it has handlers for, and must reap orphans. G ignores the signals mcpwrap forwards — the
server receives them directly, as a member of the process group ``Popen`` created (``start_new_session``) —
and exits with the server's status (128+n for a signal), which P passes on: the relay's lifecycle (close stdin
→ wait → SIGTERM to the group → SIGKILL to the group) and its exit status work unchanged. SIGKILL to the group
ends G, and the kernel then kills everything left in the namespace, daemons included. P and G set
``PR_SET_PDEATHSIG`` so that nothing outlives a killed mcpwrap.

All of this runs in ``preexec_fn`` — in forked copies of mcpwrap, before any thread is started (mcpwrap
spawns the server first thing). P and G never return from it. G starts the server with ``posix_spawn``
(vfork-fast: no third copy of the interpreter) after confining itself — it only waits from then on, and the
server, in the same Landlock domain, still cannot ptrace it or read its /proc entries (G is non-dumpable and
the server holds no capability); an exec failure (command not found) goes to the report pipe as
``exec:<errno>`` and the parent raises it as Popen would. Without namespaces the Popen child confines itself
and Popen executes the server. A failure of the sandbox itself is written to the report pipe, so that the
parent can say what failed instead of "Exception occurred in preexec_fn"; a failure
in a stage named ``namespaces: …`` (refused by the system: a sysctl, AppArmor's restriction of unprivileged
user namespaces, a container's seccomp) makes the parent start again without namespaces.

The Landlock ruleset is built in mcpwrap before the fork (a descriptor the children inherit); G adds the rule
for the /proc it mounted (a new inode) and applies it. Without user namespaces (refused by the system), the
Popen child applies Landlock, seccomp and no_new_privs alone (the report says what is missing).
"""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING

from . import _linux, landlock, namespaces, seccomp

if TYPE_CHECKING:
    import socket

__all__ = ["Launcher", "exit_code", "PROXY_PORT"]

PROXY_PORT = 3128  # inside a fresh network namespace nothing else listens: a fixed port is always free
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# What the server starts with at their defaults (what Popen's restore_signals does, and what P and G ignore).
_DEFAULTED = (*_FORWARDED, signal.SIGPIPE, signal.SIGXFSZ)


def exit_code(status: int) -> int:
    """A wait status as the exit code a shell would report (128+n for signal n)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 255


class Launcher:
    """What the forked children do. Built by the plan in the parent; its ``preexec`` runs in the child."""

    def __init__(
        self,
        *,
        ruleset: landlock.Ruleset | None,
        seccomp_program: bytes | None,
        namespaces_flags: int,
        new_proc: bool,
        loopback: bool,
        proxy_channel: socket.socket | None,
        report_fd: int,
        drop_caps: bool,
        read_only_mounts: tuple[str, ...] = (),
    ) -> None:
        self.read_only_mounts = read_only_mounts
        self.argv: list[str] | None = None  # set by the plan before the spawn: G starts the server itself
        self.env: dict[str, str] | None = None
        self.ruleset = ruleset
        self.seccomp_program = seccomp_program
        self.flags = namespaces_flags
        self.new_proc = new_proc
        self.loopback = loopback
        self.proxy_channel = proxy_channel
        self.report_fd = report_fd
        self.drop_caps = drop_caps
        self.uid = os.getuid()
        self.gid = os.getgid()
        self.parent = os.getpid()

    # --- in the child ------------------------------------------------------------------------------------------

    def preexec(self) -> None:
        stage = "starting the sandbox"
        try:
            if not self.flags:
                # No namespaces: the Popen child confines itself; Popen then executes the server in it.
                self._confine()
                return
            stage = "namespaces: creating them"
            self._set_pdeathsig()
            for signum in _FORWARDED:  # P and G must outlive the server; the server gets the defaults back
                signal.signal(signum, signal.SIG_IGN)
            _linux.unshare(self.flags)
            namespaces.write_id_maps(self.uid, self.gid)
            if self.loopback:
                stage = "namespaces: bringing up the loopback interface"
                namespaces.loopback_up()
            if self.proxy_channel is not None:
                stage = "namespaces: creating the proxy listener"
                self._send_listener()
            init = os.fork()
            if init:
                self._wait_and_exit(init, reap_all=False)
            # G: PID 1 of the new namespace
            self._set_pdeathsig()
            if self.new_proc:
                stage = "namespaces: mounting /proc"
                namespaces.mount_proc()
                if self.ruleset is not None:
                    self.ruleset.allow_path("/proc", landlock.READ)
            for path in self.read_only_mounts:
                # A link is not bound (mount would follow it, possibly into the fresh /proc: a link a server
                # planted in an earlier session must not steer this one); what it names is protected by Landlock.
                # A failure here is not "namespaces refused": it fails the start instead of falling back.
                if os.path.islink(path):
                    continue
                stage = f"read-only mounts: making {path} read only"
                namespaces.bind_readonly(path)
            # G confines itself (it only waits from now on) and starts the server with posix_spawn: no
            # third copy of mcpwrap's interpreter. Its exec failures go to the report pipe.
            self._confine()
            self._spawn_server_and_wait()
        except BaseException as exc:
            self._report(f"{stage}: {exc}")
            raise

    def _confine(self) -> None:
        """no_new_privs, no capabilities, Landlock, seccomp — for this process and what it executes."""
        stage = "setting no_new_privs"
        try:
            _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
            if self.drop_caps and self.uid == 0:
                # A non-root server loses every capability when it is executed (no_new_privs: file
                # capabilities are ignored); root keeps the bounding set's, so that is emptied first.
                namespaces.drop_capabilities()
            if self.ruleset is not None:
                stage = "applying the Landlock ruleset"
                self.ruleset.restrict()
                self.ruleset.close()
            if self.seccomp_program is not None:
                stage = "installing the seccomp filter"
                seccomp.install(self.seccomp_program)
            if self.drop_caps:
                stage = "dropping capabilities"
                namespaces.clear_capabilities()
        except OSError as exc:
            raise OSError(exc.errno, f"{stage}: {exc.strerror or exc}") from None

    def _spawn_server_and_wait(self) -> None:
        """In G: start the server (Popen's job elsewhere: PATH search of the server's environment, default
        signal dispositions, only fds 0-2 inherited), report an exec failure, then become its init. Never
        returns."""
        assert self.argv is not None and self.env is not None
        os.closerange(3, self.report_fd)
        os.closerange(self.report_fd + 1, 1 << 20)
        program = self.argv[0]
        candidates = [program] if os.path.dirname(program) else [os.path.join(d, program) for d in os.get_exec_path(self.env)]
        # Like execvp, but looked up first: each failed posix_spawn would cost a process.
        error: OSError | None = None
        pid = 0
        for path in candidates:
            if not os.path.isfile(path):
                continue
            if not os.access(path, os.X_OK):
                error = error or OSError(errno.EACCES, os.strerror(errno.EACCES))
                continue
            try:
                pid = os.posix_spawn(path, self.argv, self.env, setsigdef=_DEFAULTED)
                break
            except OSError as exc:
                error = exc
                break
        if not pid:
            failure = error or OSError(errno.ENOENT, os.strerror(errno.ENOENT))
            try:
                os.write(self.report_fd, f"exec:{failure.errno}\n".encode())
            finally:
                os._exit(255)
        os.close(self.report_fd)
        self._wait_and_exit(pid, reap_all=True)

    def _set_pdeathsig(self) -> None:
        _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)

    def _send_listener(self) -> None:
        import socket

        assert self.proxy_channel is not None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", PROXY_PORT))
            listener.listen(64)
            socket.send_fds(self.proxy_channel, [b"L"], [listener.fileno()])
        finally:
            listener.close()
            self.proxy_channel.close()

    def _report(self, text: str) -> None:
        try:
            os.write(self.report_fd, (text.replace("\n", " ")[:500] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    @staticmethod
    def _wait_and_exit(child: int, *, reap_all: bool) -> None:
        """Become a waiter: hold nothing of mcpwrap's, wait for ``child`` (reaping any orphan when PID 1), and
        exit with its status. Never returns."""
        code = 255
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.closerange(3, 1 << 20)  # close_range(2) underneath: the relay's pipes, the Popen error pipe, …
            while True:
                try:
                    pid, status = os.waitpid(-1 if reap_all else child, 0)
                except InterruptedError:
                    continue
                except ChildProcessError:
                    break
                if pid == child:
                    code = exit_code(status)
                    break
        finally:
            os._exit(code)


def make_listener_channel() -> tuple[socket.socket, socket.socket]:
    """A socket pair: the child sends the proxy's listening socket (made in its network namespace) through it."""
    import socket

    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return parent, child


def receive_listener(channel: socket.socket, timeout: float) -> socket.socket | None:
    import socket

    channel.settimeout(timeout)
    try:
        _msg, fds, _flags, _addr = socket.recv_fds(channel, 16, 1)
    except OSError:
        return None
    if not fds:
        return None
    return socket.socket(fileno=fds[0])
