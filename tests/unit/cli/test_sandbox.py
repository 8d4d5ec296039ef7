"""`mcpwrap sandbox check` (typer's runner, no process is started)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from mcpwrap._cli.app import app

runner = CliRunner()

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel sandbox is Linux only")


def test_check_reports_the_kernel():
    result = runner.invoke(app, ["sandbox", "check", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert set(info["kernel"]) >= {"landlock", "namespaces", "seccomp", "bubblewrap"}
    assert "server" not in info


def test_check_describes_what_a_server_would_get_under_the_policy(tmp_path, mcpwrap_home):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: v1\nsandbox:\n  servers:\n    gh: {network: {hosts: [api.github.com]}}\n")
    data = tmp_path / "data"
    data.mkdir()
    result = runner.invoke(app, ["sandbox", "check", "--policy", str(policy), "--name", "gh", "--json", "--", "server", str(data)])
    assert result.exit_code == 0, result.output
    server = json.loads(result.output)["server"]
    assert server["server"] == "gh"
    assert server["network"]["hosts"] == ["api.github.com"]
    assert str(data) in server["writable"]
    assert str(policy) in server["protected"] and str(mcpwrap_home) in server["protected"]
    text = runner.invoke(app, ["sandbox", "check", "--policy", str(policy), "--name", "gh", "--", "server", str(data)])
    assert "server 'gh': sandbox" in text.output and "api.github.com" in text.output


def test_a_bad_policy_is_a_clear_error(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("sandbox: {network: sometimes}\n")
    result = runner.invoke(app, ["sandbox", "check", "--policy", str(policy), "--", "server"])
    assert result.exit_code == 2
    assert "sandbox.network" in result.output and "Traceback" not in result.output
