"""The server's process: clear spawn errors, the exit status, the shutdown steps, nothing of its group left."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from mcpwrap._errors import CommandNotFound, McpwrapError
from mcpwrap._relay import process

DEADLINE = 10.0  # seconds a condition may take on a loaded machine before the test fails
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]  # ignores the end of its input


def wait_until(condition, deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_missing_command_is_command_not_found(tmp_path):
    with pytest.raises(CommandNotFound) as err:
        process.spawn([str(tmp_path / "no-such-server")], None)
    assert err.value.exit_code == 127 and "no-such-server" in str(err.value)


def test_a_file_that_is_not_executable_exits_126(tmp_path):
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(McpwrapError) as err:
        process.spawn([str(script)], None)
    assert err.value.exit_code == 126 and "not executable" in str(err.value)


def test_a_replacement_popen_starts_the_child():
    """The sandbox passes its own Popen; the relay's pipes and process group come from the same arguments."""
    seen: list[dict] = []

    def popen(command, **kw):
        seen.append(kw)
        return process.subprocess.Popen(command, **kw)

    child = process.spawn(["/bin/sh", "-c", "exit 0"], None, popen)
    assert process.exit_status(child) == 0
    assert seen and seen[0]["start_new_session"] is True and seen[0]["stdout"] == process.subprocess.PIPE


@pytest.mark.parametrize("code, status", [("exit 3", 3), ("kill -TERM $$", 128 + signal.SIGTERM)])
def test_the_exit_status_is_the_servers(code, status):
    assert process.exit_status(process.spawn(["/bin/sh", "-c", code], None)) == status


def test_the_rest_of_the_group_is_ended_when_the_server_exits(tmp_path):
    pidfile = tmp_path / "grandchild"
    child = process.spawn(["/bin/sh", "-c", f"sleep 60 & echo $! > {pidfile}; exec 1>&- 0<&-"], None)
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    grandchild = int(pidfile.read_text())
    process.exit_status(child)
    assert wait_until(lambda: not alive(grandchild))


def test_end_after_eof_escalates_to_sigterm_when_the_server_ignores_eof():
    child = process.spawn(SLEEPER, None)
    exited = threading.Event()
    statuses: list[int] = []

    def wait() -> None:
        statuses.append(process.exit_status(child))
        exited.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert child.stdin is not None
    child.stdin.close()  # what the relay does on the client's EOF; this server keeps sleeping
    started = time.monotonic()
    process.end_after_eof(child, exited)
    waiter.join(DEADLINE)
    assert statuses == [128 + signal.SIGTERM]
    assert time.monotonic() - started >= process.CHILD_EXIT_GRACE  # it was given its grace first


def test_kill_and_reap_ends_a_server_whose_start_up_failed():
    child = process.spawn(SLEEPER, None)
    process.kill_and_reap(child)
    assert child.returncode == -signal.SIGKILL and not alive(child.pid)
    process.kill_and_reap(child)  # already gone: nothing happens
    process.kill_and_reap(None)


def test_signals_are_forwarded_and_sighup_reloads_in_its_own_thread():
    forwarded: list[int] = []
    reloads: list[str] = []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)}
    try:
        process.install_signal_handlers(forwarded.append, lambda: reloads.append(threading.current_thread().name))
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)
        assert wait_until(lambda: forwarded and reloads)
        assert forwarded == [signal.SIGTERM] and reloads == ["mcpwrap-reload"]
        assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
