"""Which mcpwrap a client starts: the launcher enable writes, its warning, and telling mcpwrap from a look-alike."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcpwrap._clients import install
from mcpwrap._clients.install import is_mcpwrap_script, judge, launcher, launcher_warning

WRAP_ARGS = ["wrap", "--name", "x", "--", "server"]
OWN_SCRIPT = install._own_script()


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def console_script(interpreter: str) -> str:
    return (
        f"#!{interpreter}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom mcpwrap.__main__ import main\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n"
    )


def fake_environment(root: Path, *, record: bool = True) -> Path:
    """A venv-shaped directory whose mcpwrap distribution recorded bin/mcpwrap (nothing in it is run)."""
    bindir = root / "bin"
    bindir.mkdir(parents=True)
    (bindir / "python").symlink_to(sys.executable)
    script = executable(bindir / "mcpwrap", console_script(str(bindir / "python")))
    dist = root / "lib" / "python3.11" / "site-packages" / "mcpwrap-9.9.dist-info"
    dist.mkdir(parents=True)
    (dist / "RECORD").write_text(("../../../bin/mcpwrap,sha256=x,1\n" if record else "") + "mcpwrap/__init__.py,,\n")
    return script


@pytest.fixture
def project(tmp_path):
    p = tmp_path / "project"
    p.mkdir()
    return p


def test_launcher_prefers_the_path_link_of_this_installation(tmp_path, monkeypatch):
    assert OWN_SCRIPT is not None, "the test venv has a mcpwrap console script"
    assert launcher() == (OWN_SCRIPT,) or os.path.realpath(launcher()[0]) == os.path.realpath(OWN_SCRIPT)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mcpwrap").symlink_to(OWN_SCRIPT)  # as pipx and uv link ~/.local/bin/mcpwrap into their venv
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert launcher() == (str(bindir / "mcpwrap"),)
    other = tmp_path / "other"
    executable(other / "mcpwrap", "#!/bin/sh\n")  # another program of that name: not this installation
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    assert launcher() == (OWN_SCRIPT,)


def test_the_launcher_runs_with_an_empty_environment():
    out = subprocess.run([*launcher(), "--version"], capture_output=True, text=True, env={}, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("mcpwrap ")


def test_a_launcher_in_a_checkout_or_a_temporary_directory_is_warned_about(tmp_path, monkeypatch):
    # the test venv is the checkout's .venv: exactly the trap (deleting the clone breaks every server)
    # (a checkout under a temporary directory is warned about as that instead: both are places that will not last)
    text = launcher_warning()
    assert text is not None and ("git work tree" in text or "temporary directory" in text)
    assert "pipx install" in text and "uv tool install" in text
    assert "mcpwrap enable" in text
    monkeypatch.setattr(install, "_git_work_tree", lambda path: None)
    monkeypatch.setattr(sys, "prefix", "/opt/tools/mcpwrap")
    monkeypatch.setattr(install, "_temporary_roots", lambda: [str(tmp_path)])
    assert launcher_warning(("/opt/tools/mcpwrap/bin/mcpwrap",)) is None
    temporary = launcher_warning((str(tmp_path / "venv" / "bin" / "mcpwrap"),))
    assert temporary is not None and "temporary directory" in temporary


def test_the_running_installation_is_genuine(project):
    assert judge(OWN_SCRIPT, WRAP_ARGS, project=str(project)).state == "genuine"
    assert judge(OWN_SCRIPT, WRAP_ARGS, project=None).state == "genuine"


def test_a_look_alike_inside_the_project_is_not_mcpwrap(project):
    executable(project / "tools" / "mcpwrap", "#!/bin/sh\nexec \"$@\"\n")
    verdict = judge("./tools/mcpwrap", WRAP_ARGS, project=str(project))
    assert verdict.state == "lookalike" and "inside the project" in verdict.reason
    # even a faithful copy of a real installation: a repository cannot vouch for its own wrapper
    fake_environment(project / ".venv")
    assert judge(".venv/bin/mcpwrap", WRAP_ARGS, project=str(project)).state == "lookalike"
    assert judge(str(project / ".venv" / "bin" / "mcpwrap"), WRAP_ARGS, project=str(project)).state == "lookalike"


def test_a_script_that_merely_imports_mcpwrap_is_not_an_installation(tmp_path, project):
    script = executable(tmp_path / "elsewhere" / "mcpwrap", console_script(sys.executable))
    verdict = judge(str(script), WRAP_ARGS, project=str(project))
    assert verdict.state == "lookalike" and "not an installed mcpwrap" in verdict.reason
    unrecorded = fake_environment(tmp_path / "unrecorded", record=False)
    assert not is_mcpwrap_script(unrecorded)


def test_another_installation_is_genuine_when_its_distribution_recorded_the_script(tmp_path, project):
    script = fake_environment(tmp_path / "tools" / "mcpwrap")
    assert is_mcpwrap_script(script)
    assert judge(str(script), WRAP_ARGS, project=str(project)).state == "genuine"
    link = tmp_path / "bin" / "mcpwrap"
    link.parent.mkdir()
    link.symlink_to(script)
    assert judge(str(link), WRAP_ARGS, project=str(project)).state == "genuine"


def test_a_bare_name_is_looked_up_on_path_as_the_client_would(tmp_path, project, monkeypatch):
    impostor = tmp_path / "impostor"
    executable(impostor / "mcpwrap", "#!/bin/sh\n")
    monkeypatch.setenv("PATH", f"{impostor}{os.pathsep}/usr/bin:/bin")
    verdict = judge("mcpwrap", WRAP_ARGS, project=str(project))
    assert verdict.state == "lookalike" and "on PATH" in verdict.reason and str(impostor) in verdict.reason
    real = tmp_path / "real"
    real.mkdir()
    (real / "mcpwrap").symlink_to(OWN_SCRIPT)
    monkeypatch.setenv("PATH", f"{real}{os.pathsep}{impostor}")
    assert judge("mcpwrap", WRAP_ARGS, project=str(project)).state == "genuine"
    # a PATH set by the entry itself is the one the client searches
    assert judge("mcpwrap", WRAP_ARGS, project=str(project), env={"PATH": str(impostor)}).state == "lookalike"
    # a relative PATH entry is relative to the project the client starts in
    executable(project / "bin" / "mcpwrap", "#!/bin/sh\n")
    assert judge("mcpwrap", WRAP_ARGS, project=str(project), env={"PATH": "bin"}).state == "lookalike"


def test_a_missing_launcher_is_stale_and_a_relative_one_without_a_project_is_not_mcpwrap(tmp_path):
    gone = judge(str(tmp_path / "deleted-clone" / ".venv" / "bin" / "mcpwrap"), WRAP_ARGS, project=None)
    assert gone.state == "stale" and "missing" in gone.reason
    assert judge("./tools/mcpwrap", WRAP_ARGS, project=None).state == "lookalike"


def test_the_module_form_needs_mcpwrap_in_that_interpreter_and_no_module_in_the_project(tmp_path, project):
    args = ["-m", "mcpwrap", *WRAP_ARGS]
    assert judge(sys.executable, args, project=str(project)).state == "genuine"
    bare = tmp_path / "bare"
    (bare / "bin").mkdir(parents=True)
    (bare / "bin" / "python3").symlink_to(sys.executable)  # an interpreter of an environment without mcpwrap
    assert judge(str(bare / "bin" / "python3"), args, project=str(project)).state == "lookalike"
    (project / "mcpwrap").mkdir()  # `python -m` imports from the working directory first
    (project / "mcpwrap" / "__main__.py").write_text("")
    verdict = judge(sys.executable, args, project=str(project))
    assert verdict.state == "lookalike" and "would import" in verdict.reason
