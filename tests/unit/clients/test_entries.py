"""The wrapped form and recognising entries: mcpwrap's own, other wrappers', and how mcpwrap is launched."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpwrap._clients.entries import launcher, other_wrapper, parse_wrapped


@pytest.mark.parametrize(
    "command, args, tool",
    [
        ("mcpgw", ["--", "npx", "x"], "mcpgw"),
        ("/opt/bin/mcp-context-protector.sh", ["--command", "x"], "mcp-context-protector"),
        ("uvx", ["mcp-scan@latest", "proxy"], "mcp-scan"),
        ("npx", ["-y", "@modelcontextprotocol/server-everything"], None),
        ("mcp-scanner-lookalike", [], None),
        ("python3", ["-m", "mcp-context-protector", "--", "x"], "mcp-context-protector"),
        ("npx", ["-y", "thv", "run", "fetch"], "toolhive"),
        ("0", ["THV"], None),  # an argument spelling a wrapper's name is not a wrapper
        ("npx", ["-y", "@acme/server", "--mode", "mcpgw"], None),
    ],
)
def test_other_wrappers_are_detected(command, args, tool):
    assert other_wrapper(command, args) == tool


def test_launcher_is_absolute_and_runnable():
    cmd = launcher()
    assert Path(cmd[0]).is_absolute()
    import subprocess

    out = subprocess.run([*cmd, "version"], capture_output=True, text=True, env={}, timeout=60)
    assert out.returncode == 0 and out.stdout.strip()  # works with an empty environment (no PATH)


@pytest.mark.parametrize(
    "command, args, expected",
    [
        ("/venv/bin/mcpwrap", ["wrap", "--name", "n", "--", "srv", "-x"], ("n", "srv", ["-x"])),
        ("/usr/bin/python3", ["-m", "mcpwrap", "wrap", "--", "srv"], (None, "srv", [])),
        ("/venv/bin/mcpwrap", ["status"], None),  # another mcpwrap command is not a wrapped server
        ("/venv/bin/mcpwrap", ["wrap", "--name", "n"], None),  # no command after --: not a wrapped server
        ("/venv/bin/mcpwrap", ["wrap", "--bogus", "--", "srv"], None),  # options wrap would refuse
        ("node", ["mcpwrap", "wrap", "--", "srv"], None),
    ],
)
def test_parse_wrapped_accepts_exactly_what_wrap_accepts(command, args, expected):
    w = parse_wrapped(command, args)
    assert (None if w is None else (w.name, w.command, w.args)) == expected
