"""Shared pieces of the approval integration tests: environment, policy file, a second process at a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from approval_rig import ENV, HOOKS
from rig import MCPWRAP, ROOT, child_env, wrap_command

WAIT_FOR_QUEUE = 20.0  # seconds a test waits for a held call to appear in the queue (slow shared machine)


def approval_env(home: Path, **script: Any) -> dict[str, str]:
    """Environment for a wrapped server whose calls to ``script["tools"]`` need approval."""
    return child_env(
        MCPWRAP_HOME=str(home),
        MCPWRAP_TEST_HOOKS=HOOKS,
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
    """``mcpwrap ARGS`` as a second process without a terminal (as a script, or a model's shell tool, runs it)."""
    return subprocess.run([*MCPWRAP, *args], env=child_env(MCPWRAP_HOME=str(home)), stdin=stdin, capture_output=True, text=True, timeout=60)


def cli_at_terminal(home: Path, *args: str, answer: str = "y\n") -> tuple[int, str]:
    """``mcpwrap ARGS`` with a pseudo-terminal as stdin/stdout (a person at a terminal), typing ``answer``."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*MCPWRAP, *args], env=child_env(MCPWRAP_HOME=str(home), TERM="dumb"), stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    typed = False
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
            if not typed and b"[y/N]" in out:
                os.write(master, answer.encode())
                typed = True
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=30)
    os.close(master)
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
