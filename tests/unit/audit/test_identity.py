"""Who wrote a session, and whether that process still runs."""

from __future__ import annotations

import subprocess
import sys

from mcpwrap._audit.identity import process_state, wrapper_identity


def test_process_state_of_this_process_and_a_dead_one():
    me = wrapper_identity()
    assert process_state(me) == "running"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_state({**me, "pid": child.pid, "started": None}) == "gone"
    assert process_state({**me, "started": "1"}) == "gone"  # pid reused by another process
    assert process_state({**me, "host": "elsewhere"}) == "unknown"
