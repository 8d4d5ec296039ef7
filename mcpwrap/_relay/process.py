"""The wrapped server's process: spawn, signals, and the close → TERM → KILL shutdown.

Design and invariants
- The server runs in its own process group (``start_new_session``), so a signal reaches the whole tree it
  started (a launcher script, ``npx``, the interpreter it execs) and nothing of it outlives mcpwrap: once the
  server exits, the rest of its group is killed too.
- Its stderr is inherited: the server's diagnostics go straight to mcpwrap's stderr, which clients log.
- Shutdown after the client's EOF follows the MCP stdio transport: the server's stdin is closed first (the
  caller does that, it owns the pipe), then ``CHILD_EXIT_GRACE`` for it to exit on its own, SIGTERM to the
  group, ``TERM_GRACE``, SIGKILL.
- mcpwrap's exit status is the server's (128+n when a signal ended it). SIGINT and SIGTERM sent to mcpwrap are
  forwarded to the server's group (the server decides how to end, and mcpwrap follows it); SIGHUP asks for a
  policy reload and never ends anything; SIGPIPE is ignored (a closed pipe is seen as ``EPIPE`` by the writer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from .._errors import CommandNotFound, McpwrapError

__all__ = ["ChildProcess", "install_signal_handlers", "CHILD_EXIT_GRACE", "TERM_GRACE"]

CHILD_EXIT_GRACE = 2.0  # after the client's EOF, time for the server to exit on its own (the SDK waits 2 s too)
TERM_GRACE = 2.0  # after SIGTERM to the group, before SIGKILL


class ChildProcess:
    """The wrapped server. ``exited`` is set once it has exited and been reaped."""

    def __init__(self, command: list[str], env: dict | None = None) -> None:
        self.command = command
        self.env = env
        self.popen: subprocess.Popen | None = None
        self.exited = threading.Event()

    def spawn(self) -> None:
        """Start the server with pipes for stdin and stdout; a command that cannot run is a clear error."""
        try:
            self.popen = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,  # inherited: the server's diagnostics go straight to ours
                bufsize=0,
                start_new_session=True,  # own process group: signals reach the whole server tree
                env=self.env,
                close_fds=True,
            )
        except FileNotFoundError:
            raise CommandNotFound(f"command not found: {self.command[0]}") from None
        except PermissionError:
            err = McpwrapError(f"command is not executable: {self.command[0]}")
            err.exit_code = 126
            raise err from None
        except OSError as exc:
            err = McpwrapError(f"cannot start {self.command[0]}: {exc.strerror or exc}")
            err.exit_code = 126
            raise err from None

    @property
    def started(self) -> bool:
        return self.popen is not None

    def _popen(self) -> subprocess.Popen:
        if self.popen is None:
            raise McpwrapError("the server was not started")
        return self.popen

    @property
    def pid(self) -> int:
        return self._popen().pid

    @property
    def stdin_fd(self) -> int:
        stdin = self._popen().stdin
        assert stdin is not None  # spawned with stdin=PIPE
        return stdin.fileno()

    @property
    def stdout_fd(self) -> int:
        stdout = self._popen().stdout
        assert stdout is not None  # spawned with stdout=PIPE
        return stdout.fileno()

    def wait(self) -> int:
        """Block until the server exits; end the rest of its group; return mcpwrap's exit status."""
        popen = self._popen()
        while True:
            try:
                rc = popen.wait()
                break
            except KeyboardInterrupt:  # pragma: no cover - SIGINT is handled, kept as a guard
                continue
        self.signal_group(signal.SIGKILL)  # reap stragglers of the group: no orphans
        self.exited.set()
        return 128 + (-rc) if rc < 0 else rc

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        """Start-up failed after the server was spawned (bad policy, unwritable audit log): end it, reap it."""
        if self.popen is not None and self.popen.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.popen.wait()

    def end(self) -> None:
        """After its stdin was closed: give the server time to exit, then SIGTERM its group, then SIGKILL."""
        for sig, grace in ((None, CHILD_EXIT_GRACE), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
            if sig is not None:
                self.signal_group(sig)
            if grace is None or self.exited.wait(grace):
                return


def install_signal_handlers(child: ChildProcess, on_hangup: Callable[[], None]) -> None:
    """Forward SIGINT/SIGTERM to the server's group; run ``on_hangup`` (reload) on SIGHUP, in its own thread.

    Python delivers signals to the main thread only, so this does nothing when the relay runs elsewhere
    (tests, embedding).
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def forward(signum: int, _frame: Any) -> None:
        child.signal_group(signum)

    def hangup(_signum: int, _frame: Any) -> None:
        # Off the handler: a reload reads files and may take a while; the relay keeps relaying meanwhile.
        threading.Thread(target=on_hangup, name="mcpwrap-reload", daemon=True).start()

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, hangup)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
