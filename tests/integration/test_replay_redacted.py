"""`policy test --replay` on a log in the default argument form (`redacted`), recorded by the real mcpwrap.

Values the record holds decide; a value the redactor replaced is unknown, and only a decision that depends on
it is undecidable.
"""

from __future__ import annotations

import json

import pytest
from rig import FAKE, child_env, read_audit, sdk_session, wrap_command
from typer.testing import CliRunner

from mcpwrap._cli.app import app

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SECRET_PATH = "/srv/AKIA" + "Z7QW3RT5YU2IO4PA.txt"  # an AWS key id inside the argument: redacted in the log
NEW_POLICY = """\
default_action: allow
rules:
  - name: no-credentials
    action: deny
    match: {methods: [tools/call], arguments: {path: ["*creds*"]}}
"""


async def test_replay_decides_on_the_values_a_redacted_record_holds(tmp_path):
    log = tmp_path / "audit.jsonl"
    async with sdk_session(wrap_command(FAKE, "--name", "fake", audit_log=log), env=child_env()) as session:
        for path in ("/srv/creds.txt", "/srv/notes.txt", SECRET_PATH):
            await session.call_tool("echo", {"path": path})
    calls = [r for r in read_audit(log) if r.get("method") == "tools/call" and r["kind"] == "request"]
    assert {r["arguments_form"] for r in calls} == {"redacted"}  # the default form
    assert SECRET_PATH not in log.read_text() and "[REDACTED:aws_access_key]" in log.read_text()
    policy = tmp_path / "new-policy.yaml"
    policy.write_text(NEW_POLICY)
    result = CliRunner().invoke(app, ["policy", "test", str(policy), "--replay", str(log), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    changed = [(c["tool"], c["recorded"], c["new"], c["rule"]) for c in report["changes"]]
    assert changed == [("echo", "allow", "deny", "no-credentials")]  # the creds path, read from the record
    assert len(report["undecidable_records"]) == 1  # the redacted path: it might have held "creds"
    assert report["undecidable_records"][0]["reason"] == "depends on a redacted argument value"
    assert report["same"] == report["replayed"] - 2
