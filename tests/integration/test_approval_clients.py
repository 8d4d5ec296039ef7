"""An approval reaches a person in the clients people use: what the real Claude Code CLI declares, and what mcpwrap
does with it.

`claude mcp list` (no login, no network) launches the configured servers and runs the handshake. Through a
wrapped scripted server that records what it receives, the test learns exactly what this Claude Code declares at
initialize (clientInfo, capabilities). Claude Code's modes — terminal UI, print/SDK mode, the VS Code extension,
the copy inside Claude Desktop — all declare form elicitation under the same name, and several decline or drop
forms unseen; mcpwrap therefore sends the terminal's one-time code by notification as well. The second part
replays those exact declarations to a wrapped server with an approve rule and declines the form at once, as
Claude Code's print mode and VS Code extension do: the call must still reach the person and run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from approval_rig import wait_for_code
from approval_support import approval_command, approval_env, approval_records, cli_at_terminal, screen_of
from rig import CLAUDE, FAKE, MCPWRAP, RawPeer, read_audit

pytestmark = pytest.mark.integration

CLAUDE_TIMEOUT_S = 180  # `claude mcp list` starts every server; slow on a busy machine


def claude_code_declarations(tmp_path: Path, mcpwrap_home: Path) -> tuple[dict, list[dict]]:
    """(the initialize params the real Claude Code sent through mcpwrap, mcpwrap's audit records of that session)."""
    assert Path(CLAUDE).exists(), f"Claude Code CLI missing at {CLAUDE}: run .ci/setup.sh"
    home, project = tmp_path / "home", tmp_path / "project"
    for d in (home, project):
        d.mkdir()
    received, audit = tmp_path / "received.jsonl", tmp_path / "audit.jsonl"
    received.touch()  # the sandbox lets the server write files named on its command line that exist
    server = [*MCPWRAP, "wrap", "--name", "recorder", "--audit-log", str(audit), "--", *FAKE, "--record", str(received)]
    state = {
        "mcpServers": {"recorder": {"type": "stdio", "command": server[0], "args": server[1:], "env": {"MCPWRAP_HOME": str(mcpwrap_home)}}},
        "projects": {str(project): {"hasTrustDialogAccepted": True}},
    }
    (home / ".claude.json").write_text(json.dumps(state))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "ANTHROPIC_"))}
    env.update(HOME=str(home), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1")
    out = subprocess.run([CLAUDE, "mcp", "list"], cwd=project, env=env, capture_output=True, text=True, timeout=CLAUDE_TIMEOUT_S)
    assert re.search(r"^recorder: .* - ✔ Connected$", out.stdout, re.M), out.stdout + out.stderr
    lines = [json.loads(line) for line in received.read_text().splitlines()]
    init = next(m for m in lines if m.get("method") == "initialize")
    return init["params"], read_audit(audit)


def test_claude_code_declares_forms_and_is_known_to_drop_them(tmp_path, mcpwrap_home):
    params, records = claude_code_declarations(tmp_path, mcpwrap_home)
    assert params["clientInfo"]["name"] == "claude-code"
    assert "form" in params["capabilities"]["elicitation"]
    (noted,) = [r for r in records if r["event"] == "approval-client"]
    assert noted["client"].startswith("claude-code ") and noted["form"] == "unreliable" and noted["fallback"] == "notification,terminal"


def test_with_claude_codes_declarations_a_form_declined_unseen_still_reaches_the_person(tmp_path, mcpwrap_home):
    params, _ = claude_code_declarations(tmp_path, mcpwrap_home)
    audit = tmp_path / "approval-audit.jsonl"
    env = approval_env(mcpwrap_home, tools=["echo"], channels=["elicitation", "terminal"])
    with RawPeer(approval_command(FAKE, audit_log=audit), env=env) as peer:
        peer.request(0, "initialize", params)
        peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        peer.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "deploy"}}})
        form = peer.recv()
        assert form["method"] == "elicitation/create" and "Tool: echo" in form["params"]["message"]
        peer.send({"jsonrpc": "2.0", "id": form["id"], "result": {"action": "decline"}})  # at once, unseen
        approval_id, code = wait_for_code(screen_of(mcpwrap_home))
        rc, out = cli_at_terminal(mcpwrap_home, "approve", approval_id, code=code)
        assert rc == 0, out
        while True:
            reply = peer.recv()
            if reply.get("id") == 1:
                break
    assert json.loads(reply["result"]["content"][0]["text"]) == {"message": "deploy"}
    statuses = [r["status"] for r in approval_records(read_audit(audit))]
    assert statuses[0] == "requested" and statuses[-1] == "approved" and "denied" not in statuses
