"""Which mcpwrap a client starts: the launcher ``enable`` writes, where it lives, and whether an entry that
looks wrapped really runs mcpwrap.

The launcher
    :func:`launcher` is an absolute path, because some clients (Claude Desktop) start servers without the
    user's ``PATH``: the ``mcpwrap`` on ``PATH`` when it is this very installation (pipx's and uv's
    ``~/.local/bin/mcpwrap`` link into the tool's environment, and survives the tool being reinstalled), else
    the console script next to the running interpreter, else that interpreter with ``-m mcpwrap``.
    :func:`launcher_warning` says when that path will not last — an environment in a temporary directory, a
    venv inside a git work tree (a checkout's ``.venv``), or an editable install whose code is in a checkout —
    and how to install mcpwrap so that it does.

Is it really mcpwrap?
    A configuration entry is recognised as wrapped by its command line (``… mcpwrap wrap [options] -- …``,
    :func:`mcpwrap._clients.entries.parse_wrapped`), but any file can be called ``mcpwrap``: a project's
    ``.mcp.json`` can launch ``./tools/mcpwrap wrap -- server`` and be reported as protected. :func:`judge`
    resolves the command as the client will (a relative path against the project directory the client starts
    project and local servers in, a bare name through ``PATH``) and accepts it only if it provably runs
    mcpwrap's entry point:

    - the same file (``realpath``) as the running installation's launcher; or
    - a console script that an installed ``mcpwrap`` distribution recorded (its ``RECORD`` lists the file),
      whose code calls ``mcpwrap.__main__:main`` with an interpreter of that same environment; or
    - ``<python> -m mcpwrap`` where that interpreter's environment has the ``mcpwrap`` distribution and the
      project directory (``python -m`` imports from the working directory first) holds no ``mcpwrap`` module.

    Nothing inside the project directory counts, whatever it contains: a repository cannot vouch for its own
    wrapper. Nothing is executed to find out. An entry whose launcher does not exist at all is *stale* (an
    earlier ``enable`` from an environment that is gone): ``enable`` points it at the running mcpwrap, and
    ``disable`` restores it. Every other non-genuine entry is a *look-alike*, wrapped by ``enable`` like any
    server.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["launcher", "launcher_warning", "fragile_location", "Judgement", "judge", "is_mcpwrap_script", "inside", "loader_variables"]

SCRIPT_NAMES = ("mcpwrap", "mcpwrap.exe")
ENTRY_POINT_CODE = "from mcpwrap.__main__ import main"  # what pip's, uv's and setuptools' script templates say
SCRIPT_HEAD_BYTES = 4096  # console scripts are a few hundred bytes; only the start is read
# Environment variables in an entry's "env" that change which code an interpreter loads.
LOADER_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "DYLD_LIBRARY_PATH")


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.fspath(path))


def inside(path: str | os.PathLike, directory: str | os.PathLike) -> bool:
    """Whether ``path`` is ``directory`` or beneath it (both resolved)."""
    p, d = _real(path), _real(directory)
    return p == d or p.startswith(d.rstrip(os.sep) + os.sep)


# --- the launcher --------------------------------------------------------------------------------------------------


def _own_script() -> str | None:
    bindir = Path(os.path.abspath(sys.executable)).parent
    for name in SCRIPT_NAMES:
        script = bindir / name
        if script.is_file() and os.access(script, os.X_OK):
            return str(script)
    return None


def launcher() -> tuple[str, ...]:
    """How a client should start this mcpwrap without relying on its ``PATH`` (see the module docstring).

    The interpreter path is made absolute but not resolved: a venv's ``python`` is a symlink, and resolving
    it would lose the venv.
    """
    script = _own_script()
    if script is None:
        return (os.path.abspath(sys.executable), "-m", "mcpwrap")
    on_path = shutil.which("mcpwrap")
    if on_path and os.path.isabs(on_path) and on_path != script and _real(on_path) == _real(script):
        return (on_path,)
    return (script,)


def _git_work_tree(path: str) -> str | None:
    """The git work tree ``path`` lies in (a directory holding ``.git``), if any."""
    p = Path(_real(path))
    for d in (p, *p.parents):
        if (d / ".git").exists():
            return str(d)
    return None


def _temporary_roots() -> list[str]:
    roots = {_real(tempfile.gettempdir())}
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(d):
            roots.add(_real(d))
    return sorted(roots)


def fragile_location(path: str) -> str | None:
    """Why an mcpwrap at ``path`` may vanish: a temporary directory, or a git work tree (a checkout)."""
    for root in _temporary_roots():
        if inside(path, root):
            return "in a temporary directory"
    tree = _git_work_tree(os.path.dirname(path))
    return f"inside the git work tree {tree}" if tree else None


def launcher_warning(command: tuple[str, ...] | None = None) -> str | None:
    """Why the running mcpwrap will not outlast the place it runs from, with the fix; None when it will."""
    command = command or launcher()
    prefix = sys.prefix
    package = str(Path(__file__).resolve().parent.parent)  # the mcpwrap package directory
    why = None
    for root in _temporary_roots():
        if inside(prefix, root) or inside(command[0], root):
            why = f"it runs from a temporary directory ({prefix})"
            break
    if why is None:
        tree = _git_work_tree(prefix) if prefix != sys.base_prefix else None
        if tree is not None:
            why = f"it runs from a virtual environment inside the git work tree {tree} ({prefix})"
        else:
            tree = _git_work_tree(package)
            if tree is not None:
                why = f"its code is the checkout {tree} (an editable install)"
    if why is None:
        return None
    source = _git_work_tree(package) or "<checkout or wheel>"
    return (
        f"the client configurations now start {command[0]}, but {why}: deleting, moving or rebuilding that breaks "
        f"every wrapped server. Install mcpwrap as a tool — `pipx install {source}` (or `uv tool install {source}`) — "
        "and run `mcpwrap enable` again with that mcpwrap: it points every wrapped server at itself."
    )


# --- is it really mcpwrap? -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    state: str  # "genuine", "stale" (its launcher does not exist) or "lookalike"
    reason: str = ""  # for people: why it is not genuine, or a caveat about a genuine one
    resolved: str | None = None  # the file the client would start

    @property
    def genuine(self) -> bool:
        return self.state == "genuine"


def _search_path(name: str, path_value: str, cwd: str | None) -> str | None:
    for directory in path_value.split(os.pathsep):
        if not directory:
            directory = "."
        if not os.path.isabs(directory):
            if cwd is None:
                continue
            directory = os.path.join(cwd, directory)
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _resolve(command: str, cwd: str | None, env: dict | None) -> tuple[str | None, str]:
    """The file the client would start for ``command``, and how it was found (for messages)."""
    if "/" in command or "\\" in command:
        if os.path.isabs(command):
            return command, command
        if cwd is None:
            return None, f"{command} is a relative path, resolved against whichever directory the client starts in"
        return os.path.normpath(os.path.join(cwd, command)), f"{command} in {cwd}"
    path_value = os.environ.get("PATH", os.defpath)
    if isinstance(env, dict) and isinstance(env.get("PATH"), str):
        if "${" in env["PATH"]:
            return None, f"{command} is looked up in a PATH the entry sets from variables ({env['PATH']})"
        path_value = env["PATH"]
    found = _search_path(command, path_value, cwd)
    return found, f"{command} on PATH" + (f" ({found})" if found else "")


def _site_packages(prefix: Path) -> list[Path]:
    found = sorted(prefix.glob("lib/python3*/site-packages")) + sorted(prefix.glob("lib64/python3*/site-packages"))
    windows = prefix / "Lib" / "site-packages"
    return found + ([windows] if windows.is_dir() else [])


def _distributions(prefix: Path) -> list[Path]:
    """The ``mcpwrap-*.dist-info`` directories of the environment rooted at ``prefix``."""
    return [d for sp in _site_packages(prefix) for d in sorted(sp.glob("mcpwrap-*.dist-info")) if (d / "RECORD").is_file()]


def _interpreter_of(script: Path) -> str | None:
    """The interpreter a console script runs: its shebang, or pip's /bin/sh trampoline for long paths."""
    try:
        with open(script, "rb") as f:
            head = f.read(SCRIPT_HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    if ENTRY_POINT_CODE not in head or not head.startswith("#!"):
        return None
    first, _, rest = head.partition("\n")
    if first.strip() == "#!/bin/sh" and rest.startswith("'''exec' "):
        words = rest[len("'''exec' ") :].split('"', 1)[0].split()
        return words[0] if words else None
    words = first[2:].split()
    return words[0] if words else None


def is_mcpwrap_script(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a console script installed by an ``mcpwrap`` distribution (see the module docstring)."""
    return _is_mcpwrap_script(_real(path))


@functools.lru_cache(maxsize=64)  # a status of a large ~/.claude.json asks about the same few launchers again and again
def _is_mcpwrap_script(real: str) -> bool:
    script = Path(real)
    interpreter = _interpreter_of(script)
    if interpreter is None or not os.path.isabs(interpreter):
        return False
    bindir = script.parent
    if Path(os.path.abspath(interpreter)).parent != bindir and Path(_real(interpreter)).parent != bindir:
        return False  # a script of one environment run by another interpreter: not what the installer wrote
    prefix = bindir.parent
    for dist in _distributions(prefix):
        try:
            record = (dist / "RECORD").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in record.splitlines():
            listed = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
            if listed and os.path.normpath(os.path.join(dist.parent, listed)) == os.path.normpath(str(script)):
                return True
    return False


def _has_distribution(interpreter: str) -> bool:
    if os.path.abspath(interpreter) == os.path.abspath(sys.executable):
        return True
    return bool(_distributions(Path(os.path.abspath(interpreter)).parent.parent))


def _shadowed(project: str | None) -> str | None:
    if project is None:
        return None
    for name in ("mcpwrap", "mcpwrap.py"):
        if os.path.exists(os.path.join(project, name)):
            return os.path.join(project, name)
    return None


def judge(command: str, args: list, *, project: str | None, env: dict | None = None, trusted: tuple[str, ...] = ()) -> Judgement:
    """Whether the entry ``command args…`` (already parsed as ``mcpwrap wrap …``) runs the real mcpwrap.

    ``project`` is the directory the client starts the server in (project and local scope), None when that is
    not known (user scope). ``trusted``: launcher commands accepted as they are (the one ``enable`` writes).
    """
    module_form = args[:2] == ["-m", "mcpwrap"]
    if command in trusted:
        return Judgement("genuine", resolved=command)
    resolved, how = _resolve(command, project, env)
    if resolved is None:
        return Judgement("lookalike", how)
    if not os.path.exists(resolved):
        return Judgement("stale", f"{'its interpreter' if module_form else 'mcpwrap'} is missing ({how})", resolved)
    if project is not None and inside(resolved, project):
        return Judgement("lookalike", f"{how} lies inside the project, which cannot vouch for its own wrapper", resolved)
    if module_form:
        if not _has_distribution(resolved):
            return Judgement("lookalike", f"{how} has no mcpwrap installed", resolved)
        shadow = _shadowed(project)
        if shadow is not None:
            return Judgement("lookalike", f"python -m mcpwrap would import {shadow} from the project", resolved)
        caveat = "" if project is not None else "python -m mcpwrap imports from the directory the client starts in"
        return Judgement("genuine", caveat, resolved)
    own = _own_script()
    if own is not None and _real(resolved) == _real(own):
        return Judgement("genuine", resolved=resolved)
    if is_mcpwrap_script(resolved):
        return Judgement("genuine", resolved=resolved)
    return Judgement("lookalike", f"{how} is not an installed mcpwrap", resolved)


def loader_variables(env: dict | None) -> list[str]:
    """Variables of an entry's ``env`` that change what code runs inside it (PYTHONPATH, LD_PRELOAD …)."""
    if not isinstance(env, dict):
        return []
    return [k for k in LOADER_VARIABLES if k in env]
