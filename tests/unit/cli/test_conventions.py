"""Conventions every command shares, checked on the whole command tree (a new command is checked too).

-h and --help everywhere, --version from the package metadata, shell completion, value placeholders in
capitals (no typer type names such as ``<str>`` or ``<list[Path]>``), an exit-status table in every help that
docs/cli.md repeats exactly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mcpwrap._cli.app import app
from mcpwrap._cli.exitcodes import EXIT_CODES, markdown_table

ROOT = Path(__file__).resolve().parents[3]
TYPE_PLACEHOLDER = re.compile(r"<[a-z][a-z_\[\]|, ]*>")  # <str>, <path>, <list[str]>, <int>, <float>


def command_paths() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    out: list[tuple[str, ...]] = []

    def walk(cmd, path: tuple[str, ...]) -> None:
        out.append(path)
        if hasattr(cmd, "commands"):  # a group (typer carries its own copy of click)
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))

    walk(root, ())
    return out


PATHS = command_paths()


def help_of(path: tuple[str, ...], flag: str = "--help") -> str:
    result = CliRunner().invoke(app, [*path, flag], env={"COLUMNS": "200"})
    assert result.exit_code == 0, (path, result.output)
    return result.output


def test_the_tree_holds_every_documented_command():
    assert {" ".join(p) for p in PATHS} == set(EXIT_CODES)


@pytest.mark.parametrize("path", [p for p in PATHS if p != ("wrap",)], ids=lambda p: " ".join(p) or "mcpwrap")
def test_help_conventions(path):
    text = help_of(path)
    assert help_of(path, "-h") == text
    assert not TYPE_PLACEHOLDER.findall(text), f"type placeholder in `mcpwrap {' '.join(path)} --help`"
    # every value an option takes is named in capitals (FILE, NAME, N …)
    for metavar in re.findall(r"^\s+(?:-\w, )?--[\w-]+ (\S+)", text, re.MULTILINE):
        assert metavar == metavar.upper(), (path, metavar)
    # every default is said once, the same way ([default: …], as typer shows the ones it knows)
    assert "(default" not in text, f"`mcpwrap {' '.join(path)} --help` says a default in another form"
    assert "Exit status:" in text
    for code, meaning in EXIT_CODES[" ".join(path)]:
        assert re.search(rf"^\s+{re.escape(code)}\s+{re.escape(meaning[:40])}", text, re.MULTILINE), (path, code)


def test_wrap_has_its_own_help_with_exit_statuses():
    out = subprocess.run([sys.executable, "-m", "mcpwrap", "wrap", "-h"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "usage: mcpwrap wrap [OPTIONS] -- COMMAND [ARGS...]" in out.stdout
    for code, _meaning in EXIT_CODES["wrap"]:
        assert re.search(rf"^\s+{re.escape(code)}\s", out.stdout, re.MULTILINE), code


def test_version_matches_the_package_metadata():
    expected = metadata.version("mcpwrap")
    for args in (["--version"], ["-V"], ["version"]):
        out = subprocess.run([sys.executable, "-m", "mcpwrap", *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout == f"mcpwrap {expected}\n", args


def test_the_version_has_one_source():
    # pyproject.toml takes the version from the package (setuptools reads mcpwrap.__version__ statically)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.MULTILINE)
    assert re.search(r'^version = \{attr = "mcpwrap.__version__"\}', pyproject, re.MULTILINE)
    assert not re.search(r'^version = "', pyproject, re.MULTILINE)


def test_shell_completion_is_offered():
    text = help_of(())
    assert "--install-completion" in text and "--show-completion" in text
    result = CliRunner().invoke(app, ["--show-completion", "bash"], env={"SHELL": "/bin/bash"})
    assert result.exit_code == 0 and "complete" in result.output and "mcpwrap" in result.output.lower()


def test_usage_errors_exit_2_everywhere():
    for path in PATHS:
        if path in ((), ("wrap",)):
            continue
        result = CliRunner().invoke(app, [*path, "--no-such-option"])
        assert result.exit_code == 2, path


def test_docs_carry_the_exit_status_table():
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert markdown_table() in docs


def test_the_readme_names_every_file_under_mcpwrap_home(tmp_path, monkeypatch):
    from mcpwrap import _paths

    monkeypatch.setenv("MCPWRAP_HOME", str(tmp_path))
    readme = (ROOT / "README.md").read_text()
    listing = readme[readme.index("Files live under") :].split("\n\n")[0]
    for name in _paths.__all__:
        if name in ("HOME_ENV", "home", "resolve_policy_path"):
            continue
        path = getattr(_paths, name)()
        shown = path.name + ("/" if name.endswith("_dir") else "")
        assert f"`{shown}`" in listing, f"README's MCPWRAP_HOME list lacks {shown}"


def test_the_test_servers_name_the_set_up_that_installs_them():
    import json

    description = json.loads((ROOT / "tests" / "servers" / "package.json").read_text())["description"]
    scripts = re.findall(r"[\w./-]+\.sh", description)
    assert scripts and all((ROOT / s).is_file() for s in scripts), description
