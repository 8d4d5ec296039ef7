"""The real `mcpwrap enable` process against a large ~/.claude.json: a concurrent writer, and SIGKILL mid-write.

The state file is made large (thousands of projects with history, as heavy Claude Code users have) so that
enable spends long enough inside its locked read-modify-write for another process to act in between.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rig import MCPWRAP

from mcpwrap._clients.safewrite import _Lock

pytestmark = pytest.mark.integration

PROJECTS = 1500  # ~8 MB of state


def big_state(root: Path) -> dict:
    projects = {}
    for i in range(PROJECTS):
        servers = {f"srv{i}": {"command": "node", "args": [f"/srv/{i}.js"], "env": {"K": "${K}"}}} if i % 100 == 0 else {}
        projects[str(root / f"p{i}")] = {
            "history": [{"display": f"prompt {j} " + "x" * 200, "pastedContents": {}} for j in range(20)],
            "mcpServers": servers,
            "hasTrustDialogAccepted": i % 2 == 0,
        }
    return {
        "numStartups": 42,
        "mcpServers": {"time": {"type": "stdio", "command": "mcp-server-time", "args": []}, "web": {"type": "http", "url": "http://x"}},
        "projects": projects,
        "userID": "u",
    }


def enable_cmd(config: Path) -> list[str]:
    return [*MCPWRAP, "enable", "--claude-config", str(config), "--scope", "user", "--scope", "local"]


def wrapped_names(doc: dict) -> set[str]:
    names = {n for n, e in doc["mcpServers"].items() if "x-mcpwrap" in e}
    for p in doc["projects"].values():
        names |= {n for n, e in p["mcpServers"].items() if "x-mcpwrap" in e}
    return names


WRITER = r"""
import fcntl, os, sys, time
config, lock, new_text = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:          # wait until mcpwrap holds its lock on the file
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        time.sleep(0.001); continue
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN); os.close(fd); time.sleep(0.001); continue
    except BlockingIOError:
        os.close(fd); break
else:
    sys.exit("mcpwrap never took the lock")
time.sleep(0.3)                             # mcpwrap has read the file and is computing its change
tmp = config + ".client-tmp"                # write the way a client does: its whole state, renamed into place
with open(tmp, "w") as f:
    f.write(new_text)
os.replace(tmp, config)
print("rewritten", flush=True)
"""


def test_a_concurrent_writer_change_is_kept(tmp_path, mcpwrap_home):
    config = tmp_path / ".claude.json"
    state = big_state(tmp_path)
    config.write_text(json.dumps(state, indent=2))
    # the client's in-memory state, written back while mcpwrap works: it knows nothing of mcpwrap's change
    state["numStartups"] = 43
    state["projects"][str(tmp_path / "new-project")] = {"mcpServers": {}, "history": []}
    client_text = tmp_path / "client-state.json"
    client_text.write_text(json.dumps(state, indent=2))
    lock = _Lock(config.resolve()).path  # MCPWRAP_HOME is the same for this process and the children

    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(config), str(lock), str(client_text)], stdout=subprocess.PIPE, text=True)
    enable = subprocess.run(enable_cmd(config), capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    out, _ = writer.communicate(timeout=120)
    assert writer.returncode == 0 and "rewritten" in out
    assert enable.returncode == 0, enable.stderr
    assert "was changed by another program meanwhile: its change is kept" in enable.stdout

    final = json.loads(config.read_text())
    assert final["numStartups"] == 43 and str(tmp_path / "new-project") in final["projects"]  # the client's change
    assert wrapped_names(final) == {"time"} | {f"srv{i}" for i in range(0, PROJECTS, 100)}  # and ours

    disable = subprocess.run([*MCPWRAP, "disable", "--claude-config", str(config), "--scope", "user", "--scope", "local"],
                             capture_output=True, text=True, timeout=300)
    assert disable.returncode == 0, disable.stderr
    assert config.read_text() == client_text.read_text()


def test_an_interrupted_enable_never_leaves_a_truncated_file(tmp_path, mcpwrap_home):
    original = json.dumps(big_state(tmp_path), indent=2).encode()
    reference = tmp_path / "reference.json"
    reference.write_bytes(original)
    started = time.monotonic()
    done = subprocess.run(enable_cmd(reference), capture_output=True, timeout=300)
    duration = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    enabled = reference.read_bytes()
    assert enabled != original

    config = tmp_path / ".claude.json"
    killed_mid_run = 0
    for k in range(8):
        config.write_bytes(original)
        proc = subprocess.Popen(enable_cmd(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * (k + 0.5) / 8)
        proc.kill()
        if proc.wait() == -9:
            killed_mid_run += 1
        now = config.read_bytes()
        assert now in (original, enabled), f"kill after {k}/8 of a run left a file of {len(now)} bytes"
    assert killed_mid_run >= 4  # the kills did land while enable was running
    # A kill inside the milliseconds the client's lock is held leaves the lock directory behind. Until it is
    # stale (proper-lockfile's rule) the next run refuses and changes nothing; once stale, it is taken over.
    lock = tmp_path / ".claude.json.lock"
    if lock.exists():
        before = config.read_bytes()
        attempt = subprocess.run(enable_cmd(config), capture_output=True, timeout=300)
        if before != enabled:  # a change to make: refused while the lock stands (a finished file needs no lock)
            assert attempt.returncode != 0 and b"held by the client" in attempt.stderr
        assert config.read_bytes() == before
        old = time.time() - 60
        os.utime(lock, (old, old))
    # the next run cleans up any temporary file a killed run left behind, and completes
    assert subprocess.run(enable_cmd(config), capture_output=True, timeout=300).returncode == 0
    assert config.read_bytes() == enabled
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".mcpwrap-tmp")] == []
