"""The wrapped server as a child process: how it is started, signalled, ended and reaped.

The child runs in its own process group (``start_new_session``), so a signal reaches the whole server tree
(``npx`` → node → its children) and nothing outlives mcpwrap. Its stderr is inherited: the server's
diagnostics go straight to mcpwrap's stderr, which clients log. The exit status is the child's, or 128+n for
signal n, as a shell reports it.

Ending it: the client's EOF closes the child's stdin; the child gets ``CHILD_EXIT_GRACE`` to exit on its own
(the MCP SDKs wait as long), then SIGTERM to the group, ``TERM_GRACE`` more, then SIGKILL.

Signals sent to mcpwrap: SIGINT and SIGTERM are forwarded to the child's group (the server decides how to end,
and mcpwrap follows it); SIGHUP asks for a policy reload and never ends anything; SIGPIPE is ignored (a closed
pipe is seen as ``EPIPE`` by the writer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from .._errors import CommandNotFound, McpwrapError

__all__ = [
    "CHILD_EXIT_GRACE",
    "TERM_GRACE",
    "spawn",
    "signal_group",
    "exit_status",
    "end_after_eof",
    "kill_and_reap",
    "install_signal_handlers",
]

CHILD_EXIT_GRACE = 2.0  # after the client's EOF, time for the server to exit on its own (the SDK waits 2 s too)
TERM_GRACE = 2.0  # after SIGTERM to the group, before SIGKILL


def spawn(command: list[str], env: dict | None, popen: Callable[..., subprocess.Popen] | None = None) -> subprocess.Popen:
    """Start ``command`` (no shell) with pipes for stdin and stdout; a precise error if it cannot start.

    ``popen`` replaces :class:`subprocess.Popen` (same arguments): the sandbox's, which starts the child inside
    its namespaces and Landlock domain (:mod:`mcpwrap._sandbox`)."""
    try:
        return (popen or subprocess.Popen)(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # inherited: the server's diagnostics go straight to ours
            bufsize=0,
            start_new_session=True,  # own process group: signals reach the whole server tree
            env=env,
            close_fds=True,
        )
    except FileNotFoundError:
        raise CommandNotFound(f"command not found: {command[0]}") from None
    except PermissionError:
        err = McpwrapError(f"command is not executable: {command[0]}")
        err.exit_code = 126
        raise err from None
    except OSError as exc:
        err = McpwrapError(f"cannot start {command[0]}: {exc.strerror or exc}")
        err.exit_code = 126
        raise err from None


def signal_group(child: subprocess.Popen | None, signum: int) -> None:
    if child is None:
        return
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def exit_status(child: subprocess.Popen) -> int:
    """Wait for the child, then end its group's stragglers; the status as a shell reports it."""
    while True:
        try:
            rc = child.wait()
            break
        except KeyboardInterrupt:  # pragma: no cover - SIGINT is handled, kept as a guard
            continue
    signal_group(child, signal.SIGKILL)  # reap stragglers of the group: no orphans
    return 128 + (-rc) if rc < 0 else rc


def end_after_eof(child: subprocess.Popen, exited: threading.Event) -> None:
    """The child's stdin is closed: give it time to exit, then SIGTERM its group, then SIGKILL."""
    for sig, grace in ((None, CHILD_EXIT_GRACE), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
        if sig is not None:
            signal_group(child, sig)
        if grace is None or exited.wait(grace):
            return


def kill_and_reap(child: subprocess.Popen | None) -> None:
    """Start-up failed after the child was spawned: end it and reap it."""
    if child is not None and child.poll() is None:
        signal_group(child, signal.SIGKILL)
        child.wait()


def install_signal_handlers(on_signal: Callable[[int], None], on_hangup: Callable[[], None]) -> None:
    """SIGINT/SIGTERM → ``on_signal(signum)`` (forward to the child's group); SIGHUP → ``on_hangup()`` (reload),
    in its own thread: a reload reads files and may take a while, the relay keeps relaying meanwhile.

    Python delivers signals to the main thread only, so this does nothing when the relay runs elsewhere.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def forward(signum: int, _frame: Any) -> None:
        on_signal(signum)

    def hangup(_signum: int, _frame: Any) -> None:
        threading.Thread(target=on_hangup, name="mcpwrap-reload", daemon=True).start()

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, hangup)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
