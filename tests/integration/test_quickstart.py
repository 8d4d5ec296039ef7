"""The quick start's demo command on a machine without npm: it needs none, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import rig

pytestmark = pytest.mark.integration

DEMO_TIMEOUT = 300  # the set-up check and the demo; generous for a busy machine
NODE_TOOLS = ("npm", "npx", "node", "nodejs", "corepack")


def path_without_node(tmp_path: Path) -> str:
    """A PATH with every program of the usual directories but Node.js and npm (links, nothing copied)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name not in NODE_TOOLS and not (bindir / name).exists():
                (bindir / name).symlink_to(os.path.join(directory, name))
    (bindir / "python3").unlink(missing_ok=True)
    (bindir / "python3").symlink_to(sys.executable)  # the interpreter of this checkout's .venv
    return str(bindir)


def test_the_demo_runs_without_npm_and_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPWRAP_", "VIRTUAL_ENV"))}
    env["PATH"] = path_without_node(tmp_path)
    results = tmp_path / "results.json"
    proc = subprocess.run(
        ["bash", str(rig.ROOT / "demos" / "run.sh"), "--no-audit", "--json", str(results)],
        capture_output=True, text=True, env=env, timeout=DEMO_TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "npm not found — not needed here: all six attacks run in Python" in proc.stderr
    assert "6 of 6 attacks stopped by mcpwrap." in proc.stdout
    assert results.is_file()
