"""From a clone to a protected Claude Code, as the README says: install as a tool, enable, delete the clone.

Both tests build the package the way a user's installer does (an isolated PEP 517 build that fetches setuptools
from the package index), so they need the index and take tens of seconds; `pytest -m "not install"` leaves
them out. The clone is a copy of the files git tracks in this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rig import CLAUDE, EVERYTHING, ROOT

import mcpwrap

pytestmark = [pytest.mark.integration, pytest.mark.install]

INSTALL_TIMEOUT_S = 600  # an install from the package index on a busy machine
CLAUDE_TIMEOUT_S = 180  # `claude mcp list` starts every server


def clone(dest: Path) -> Path:
    """A copy of the checkout as a fresh clone has it (the files git tracks, as they are in the work tree)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():  # a tracked file deleted in the work tree is not part of the copy
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def tracked_package_data() -> set[str]:
    files = subprocess.run(["git", "ls-files", "mcpwrap"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return {f for f in files if not f.endswith(".py") and (ROOT / f).is_file()}


def test_the_wheel_carries_its_package_data_and_version(tmp_path):
    source = clone(tmp_path / "src")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("mcpwrap-*.whl")
    assert wheel.name.startswith(f"mcpwrap-{mcpwrap.__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = tracked_package_data()
    assert {"mcpwrap/default_policy.yaml", "mcpwrap/py.typed"} <= data
    assert data <= names, f"missing from the wheel: {sorted(data - names)}"
    meta = zipfile.ZipFile(wheel).read(f"mcpwrap-{mcpwrap.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {mcpwrap.__version__}\n" in meta
    entry_points = zipfile.ZipFile(wheel).read(f"mcpwrap-{mcpwrap.__version__}.dist-info/entry_points.txt").decode()
    assert "mcpwrap = mcpwrap.__main__:main" in entry_points


def connected(listing: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^([\w.-]+): .* - ✔ Connected$", listing, re.M)}


def test_pipx_install_enable_and_delete_the_clone(tmp_path):
    """The issue's done-when: pipx install → --version → enable → claude mcp list → the clone deleted → still connected."""
    assert Path(CLAUDE).exists(), f"Claude Code CLI missing at {CLAUDE}: run .ci/setup.sh"
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    bin_dir = home / ".local" / "bin"
    source = clone(tmp_path / "clone")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CLAUDE_", "ANTHROPIC_", "MCPWRAP_", "PIPX_", "VIRTUAL_ENV", "PYTHON"))
    }  # fmt: skip
    env.update(
        HOME=str(home),
        PIPX_HOME=str(home / ".local" / "share" / "pipx"),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(home / ".local" / "share" / "man"),
        PATH=os.pathsep.join([str(bin_dir), str(Path(CLAUDE).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )

    def run(*cmd: str, cwd: Path = project, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    # the README's install line (pipx from the test environment; it creates its own venv for mcpwrap)
    installed = run(sys.executable, "-m", "pipx", "install", str(source), timeout=INSTALL_TIMEOUT_S)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    version = run("mcpwrap", "--version")
    assert version.returncode == 0 and version.stdout == f"mcpwrap {mcpwrap.__version__}\n", version.stdout + version.stderr

    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"everything": {"command": EVERYTHING[0], "args": ["stdio"]}}}, indent=2) + "\n")
    enabled = run("mcpwrap", "enable")
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    entry = json.loads((home / ".claude.json").read_text())["mcpServers"]["everything"]
    assert entry["command"] == str(bin_dir / "mcpwrap")  # the tool's entry point on PATH, not the clone
    assert not entry["command"].startswith(str(source))
    # pytest's temporary directory is temporary, and enable says so (a real HOME is not); never the checkout
    assert "temporary directory" in enabled.stderr and "git work tree" not in enabled.stderr

    listing = run(CLAUDE, "mcp", "list", timeout=CLAUDE_TIMEOUT_S)
    assert listing.returncode == 0 and connected(listing.stdout) == {"everything"}, listing.stdout + listing.stderr
    assert f"everything: {bin_dir / 'mcpwrap'} wrap --name everything" in listing.stdout

    shutil.rmtree(source)
    again = run(CLAUDE, "mcp", "list", timeout=CLAUDE_TIMEOUT_S)
    assert again.returncode == 0 and connected(again.stdout) == {"everything"}, again.stdout + again.stderr
    status = run("mcpwrap", "status", "--json")
    assert status.returncode == 0 and '"state": "wrapped"' in status.stdout, status.stdout + status.stderr
