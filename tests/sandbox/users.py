"""Running the same scenario as root and as an unprivileged user.

Sessions and CI run as root; "an unprivileged user cannot…" is only shown by switching to one. The helper
creates a system user without a home (``useradd -M -r``) once and runs commands as it with ``setpriv``. That
user must reach an interpreter and mcpwrap's code: when the checkout or the interpreter sits under a
directory only root may enter (``/root``), a readable copy of the code and of the packages ``mcpwrap wrap``
imports is made in a temporary directory, and a system interpreter of the same version is used.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

USER = "mwtest"
FORCE_COPY_ENV = "SANDBOX_TEST_COPY_CODE"  # set: always use a copy (to test that path where the checkout is readable)
ROOT = Path(__file__).resolve().parent.parent.parent
# What `mcpwrap wrap` imports beyond the standard library (and what those import).
PACKAGES = ("orjson", "re2", "_re2", "yaml", "_yaml", "jsonschema", "jsonschema_specifications", "referencing", "rpds", "attr", "attrs", "typing_extensions")


class User:
    def __init__(self, name: str, uid: int, gid: int, python: str, pythonpath: str, root: Path = ROOT) -> None:
        self.name, self.uid, self.gid, self.python, self.pythonpath = name, uid, gid, python, pythonpath
        self.root = root  # where the user finds the checkout's files (ROOT itself, or a readable copy)

    def path(self, relative: str) -> str:
        return str(self.root / relative)

    def prefix(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--inh-caps=-all", "--"]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env["PYTHONPATH"] = self.pythonpath
        env["USER"] = env["LOGNAME"] = self.name
        return env

    def own(self, path: Path) -> None:
        for p in [path, *path.rglob("*")]:
            os.lchown(p, self.uid, self.gid)


def _run_as(uid: int, gid: int, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # Through a shell: the user's own process must be the one that executes the interpreter (setpriv resolves
    # its command before it has fully become the user).
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", "/bin/sh", "-c", 'exec "$@"', "sh", *argv],
        env=env, capture_output=True, text=True, timeout=60, cwd="/",
    )


_cached: User | None = None


def unprivileged_user() -> User:
    """The unprivileged user, ready to run ``python -m mcpwrap`` (skips with the reason when impossible)."""
    global _cached
    if _cached is not None:
        return _cached
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root (this run is already unprivileged)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    import pwd

    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        if shutil.which("useradd") is None:
            pytest.skip("useradd is not installed: cannot create an unprivileged user")
        subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", USER], check=True, capture_output=True)
        entry = pwd.getpwnam(USER)
    uid, gid = entry.pw_uid, entry.pw_gid
    site = sysconfig.get_paths()["purelib"]
    probe = "import mcpwrap._runtime, orjson, re2, yaml, jsonschema"
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    interpreters = [sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"}
    readable = _run_as(uid, gid, ["/bin/test", "-r", str(ROOT / "tests" / "sandbox" / "scenario.py")], env).returncode == 0
    for python in interpreters if readable and not os.environ.get(FORCE_COPY_ENV) else ():
        if os.path.exists(python) and _run_as(uid, gid, [python, "-c", probe], {**env, "PYTHONPATH": f"{ROOT}:{site}"}).returncode == 0:
            _cached = User(USER, uid, gid, python, f"{ROOT}:{site}")
            return _cached
    # Make a copy the user can read: the package and the third-party modules wrap imports.
    copy = Path(tempfile.mkdtemp(prefix="mcpwrap-usercode-"))
    atexit.register(shutil.rmtree, copy, True)
    os.chmod(copy, 0o755)
    shutil.copytree(ROOT / "mcpwrap", copy / "mcpwrap", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "sandbox", copy / "tests" / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
    for entry_name in os.listdir(site):
        stem = entry_name.split(".")[0].split("-")[0]
        if stem in PACKAGES and not entry_name.endswith((".dist-info", ".pth")):
            src = Path(site) / entry_name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, copy / entry_name)
    subprocess.run(["chmod", "-R", "a+rX", str(copy)], check=True)
    for python in interpreters:
        if os.path.exists(python) and _run_as(uid, gid, [python, "-c", probe], {**env, "PYTHONPATH": str(copy)}).returncode == 0:
            _cached = User(USER, uid, gid, python, str(copy), root=copy)
            return _cached
    pytest.skip(f"no {version} interpreter that user {USER} may run (tried {', '.join(interpreters)})")
