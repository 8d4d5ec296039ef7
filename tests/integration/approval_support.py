"""Shared pieces of the approval integration tests: environment, policy file, the person's screen (a private
session bus whose notification service records what it shows), a second process at a terminal (a person) or
without one (a script, a model's shell tool), and the same under script(1) (a model with a pseudo-terminal)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shlex
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

from approval_rig import ENV, HOOKS, fake_notifier, no_session_bus
from rig import MCPWRAP, ROOT, child_env, wrap_command

WAIT_FOR_QUEUE = 20.0  # seconds a test waits for a held call to appear in the queue (slow shared machine)


def screen_of(home: Path) -> Path:
    """The person's screen for a test's wrappers: where the fake notification service writes (see approval_rig)."""
    return home.parent / "screen"


def approval_env(home: Path, *, notifications: bool | None = True, **script: Any) -> dict[str, str]:
    """Environment for a wrapped server whose calls to ``script["tools"]`` need approval. Desktop notifications
    go to :func:`screen_of`; with ``notifications=False`` they fail as on a session bus without a notification
    service, with ``notifications=None`` there is no session bus at all (a headless machine)."""
    if notifications is None:
        notifier = no_session_bus(home.parent / "headless")
    else:
        notifier = fake_notifier(screen_of(home) if notifications else home.parent / "no-notification-service", works=notifications)
    return child_env(
        MCPWRAP_HOME=str(home),
        MCPWRAP_TEST_HOOKS=HOOKS,
        **notifier,
        PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        **{ENV: json.dumps(script)},
    )


def approval_command(server: list[str], *options: str, audit_log: Any = None) -> list[str]:
    """``mcpwrap wrap`` with the approval test hooks (see approval_rig.py)."""
    return wrap_command(server, *options, audit_log=audit_log, hooked=True)


def write_policy(path: Path, **approval: Any) -> Path:
    lines = ["approval:"] + [f"  {key}: {json.dumps(value)}" for key, value in approval.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(home: Path, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """``mcpwrap ARGS`` as a second process without a terminal (as a script, or a model's shell tool, runs it): a new
    session, so no controlling terminal is inherited from whoever runs the tests."""
    return subprocess.run(
        [*MCPWRAP, *args], env=child_env(MCPWRAP_HOME=str(home)), stdin=stdin, capture_output=True, text=True, timeout=60, start_new_session=True
    )


def _controlling_terminal() -> None:  # in the child, after setsid: the pty on stdin becomes /dev/tty
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def cli_at_terminal(home: Path, *args: str, code: str | None = None, typed: str | None = None) -> tuple[int, str]:
    """``mcpwrap ARGS`` with a pseudo-terminal as its controlling terminal (a person at a terminal): pages are
    turned with Enter, and at the code prompt ``code`` is typed (or ``typed``, as it is)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 lines, 120 columns
    proc = subprocess.Popen(
        [*MCPWRAP, *args],
        env=child_env(MCPWRAP_HOME=str(home), TERM="dumb"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
    )
    os.close(slave)
    out = b""
    answered = 0
    pages = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if out.count(b"Enter shows the next page") > pages:
                pages += 1
                os.write(master, b"\n")
            if out.count(b"Type the one-time code") > answered:
                answered += 1
                os.write(master, ((typed if typed is not None else code or "") + "\n").encode())
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=30)
    os.close(master)
    return rc, out.decode("utf-8", "replace")


def under_script(home: Path, *args: str, typed: list[str]) -> tuple[int, str]:
    """``mcpwrap ARGS`` run the way a model with a shell tool gets a terminal: under script(1), which gives it a
    pseudo-terminal; each line of ``typed`` is fed to that terminal when the code is asked for."""
    command = " ".join(shlex.quote(a) for a in [*MCPWRAP, *args])
    proc = subprocess.Popen(
        ["script", "-qec", command, "/dev/null"],
        env=child_env(MCPWRAP_HOME=str(home), TERM="dumb"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    out = b""
    answered = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            out += proc.stdout.read() or b""
            if out.count(b"Type the one-time code") > answered:
                line = typed[answered] if answered < len(typed) else ""
                answered += 1
                proc.stdin.write((line + "\n").encode())
                proc.stdin.flush()
    rc = proc.wait(timeout=30)
    out += proc.stdout.read() or b""
    return rc, out.decode("utf-8", "replace")


def wait_for_pending(home: Path, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + WAIT_FOR_QUEUE
    while True:
        proc = cli(home, "approvals", "--json")
        assert proc.returncode == 0, proc.stderr
        entries = json.loads(proc.stdout)
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def approval_records(audit: list[dict]) -> list[dict]:
    return [r for r in audit if r.get("event") == "approval"]
