"""The server's process: clear spawn errors, the exit status, and nothing of its group outliving it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from mcpwrap._errors import CommandNotFound, McpwrapError
from mcpwrap._relay import process
from mcpwrap._relay.process import ChildProcess

DEADLINE = 10.0  # seconds a condition may take on a loaded machine before the test fails


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
        ChildProcess([str(tmp_path / "no-such-server")]).spawn()
    assert err.value.exit_code == 127 and "no-such-server" in str(err.value)


def test_a_file_that_is_not_executable_exits_126(tmp_path):
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(McpwrapError) as err:
        ChildProcess([str(script)]).spawn()
    assert err.value.exit_code == 126 and "not executable" in str(err.value)


@pytest.mark.parametrize("code, status", [("exit 3", 3), ("kill -TERM $$", 128 + signal.SIGTERM)])
def test_the_exit_status_is_the_servers(code, status):
    child = ChildProcess(["/bin/sh", "-c", code])
    child.spawn()
    assert child.wait() == status and child.exited.is_set()


def test_the_rest_of_the_group_is_ended_when_the_server_exits(tmp_path):
    pidfile = tmp_path / "grandchild"
    child = ChildProcess(["/bin/sh", "-c", f"sleep 60 & echo $! > {pidfile}; exec 1>&- 0<&-"])
    child.spawn()
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    grandchild = int(pidfile.read_text())
    child.wait()
    assert wait_until(lambda: not alive(grandchild))


def test_end_escalates_to_sigterm_when_the_server_ignores_eof():
    child = ChildProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    child.spawn()
    statuses: list[int] = []
    waiter = threading.Thread(target=lambda: statuses.append(child.wait()))
    waiter.start()
    os.close(child.stdin_fd)  # what the relay does on the client's EOF; this server keeps sleeping
    started = time.monotonic()
    child.end()
    waiter.join(DEADLINE)
    assert statuses == [128 + signal.SIGTERM]
    assert time.monotonic() - started >= process.CHILD_EXIT_GRACE  # it was given its grace first


def test_kill_ends_and_reaps_a_server_whose_start_up_failed():
    child = ChildProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    child.spawn()
    pid = child.pid
    child.kill()
    assert child.popen is not None and child.popen.returncode == -signal.SIGKILL
    assert not alive(pid)
    child.kill()  # already gone: nothing happens
