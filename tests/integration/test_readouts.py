"""One recorded session, the same totals everywhere: `audit stats`, `audit tail`, `dashboard` and `audit export`.

The real mcpwrap runs between the official SDK client and the scripted server (which can return one secret in
both `content` and `structuredContent`, and answer a call with a JSON-RPC error). The session has calls that
pass, one blocked by the policy, one whose result is redacted, and one that fails; then every read-out reads
the log through the real CLI, as plain output (not a terminal) and as JSON, and the counts must agree.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from rig import FAKE, child_env, read_audit, sdk_session, wrap_command
from typer.testing import CliRunner

from mcpwrap._cli.app import app

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

POLICY = """\
default_action: allow
rules:
  - name: no-deletes
    action: deny
    reason: deleting is not allowed
    match: {methods: [tools/call], tools: [delete]}
"""


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})  # not a terminal: full-width plain text
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
async def recorded(tmp_path) -> Path:
    log = tmp_path / "audit.jsonl"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    command = wrap_command([*FAKE, "--read-outs"], "--name", "fake", "--policy", str(policy), audit_log=log)
    async with sdk_session(command, env=child_env()) as session:
        assert {t.name for t in (await session.list_tools()).tools} == {"echo", "leak", "fail"}  # delete: filtered by the policy
        for text in ("one", "two"):
            assert not (await session.call_tool("echo", {"message": text})).is_error
        blocked = await session.call_tool("delete", {})
        assert blocked.is_error and "deleting is not allowed" in blocked.content[0].text
        leak = await session.call_tool("leak", {})
        assert "[REDACTED:aws_access_key]" in leak.content[0].text
        assert leak.structured_content == {"key": "[REDACTED:aws_access_key]"}
        with pytest.raises(Exception, match="the fail tool failed"):
            await session.call_tool("fail", {})
    return log


async def test_every_read_out_gives_the_same_totals(recorded):
    records = read_audit(recorded)
    messages = [r for r in records if r["event"] in ("message", "refused")]
    truth = Counter(r["action"] for r in messages)
    assert truth["block"] == 1 and truth["modify"] >= 1  # the blocked delete; the redacted leak (and tools/list)

    # stats
    stats = json.loads(cli("audit", "stats", "--json", str(recorded)))
    assert stats["records"] == len(records)
    assert stats["messages"] == len(messages) == sum(stats["actions"].values())
    assert {a: stats["actions"][a] for a in truth} == dict(truth)
    assert stats["errors"] == 1  # the failing call; the block is not an error
    assert stats["servers"]["fake"]["errors"] == 1 and stats["servers"]["fake"]["block"] == 1
    assert stats["tool_calls"] == 5
    for tool, counts in stats["tools"].items():  # every call counted once, by its strongest action
        assert counts["pass"] + counts["modify"] + counts["block"] == counts["calls"], tool
    assert (stats["tools"]["delete"]["block"], stats["tools"]["leak"]["modify"], stats["tools"]["echo"]["pass"]) == (1, 1, 2)
    # the secret came back twice in one message (content and structuredContent): one redacted message
    assert stats["redactions"] == {"messages": 1, "types": {"aws_access_key": 1}}
    assert stats["informational"] == {"tool-risk": 4}
    text = cli("audit", "stats", str(recorded))
    assert f"messages {stats['messages']}: pass {truth['pass']}, modify {truth['modify']}, block {truth['block']}; errors 1; tool calls 5; redactions 1" in text

    # export: every record, as stored (JSONL) or one row each (CSV)
    jsonl = cli("audit", "export", str(recorded))
    assert len(jsonl.splitlines()) == stats["records"]
    rows = list(csv.DictReader(io.StringIO(cli("audit", "export", "--format", "csv", str(recorded)))))
    assert len(rows) == stats["records"]
    assert Counter(r["action"] for r in rows if r["event"] in ("message", "refused")) == truth

    # tail: every record with --json; as a table one row per message, the listing's tool-risk records as one row
    assert len(cli("audit", "tail", "--json", "-n", "1000", str(recorded)).splitlines()) == stats["records"]
    table = cli("audit", "tail", "-n", "1000", str(recorded)).splitlines()
    header, body = table[0], table[1:]
    action_at = header.index("action")
    shown = Counter(line[action_at:].split()[0] for line in body)
    assert {a: shown[a] for a in truth} == dict(truth)
    risk_rows = [line for line in body if "(tool-risk)" in line]
    assert len(risk_rows) == 1 and "4 tools classified" in risk_rows[0]
    assert len(body) == stats["records"] - stats["informational"]["tool-risk"] + 1  # every other record a row
    assert all(len(line) > 80 for line in body if "deleting is not allowed" in line)  # not cut at 80 columns

    # dashboard: the same totals, and the error rate is error responses per response
    frame = cli("dashboard", "--once", str(recorded))
    figures = dict(part.rsplit(" ", 1) for part in frame.splitlines()[1].split("  "))
    assert figures["messages"] == str(stats["messages"]) and figures["tool calls"] == "5"
    assert figures["blocks"] == str(truth["block"]) and figures["modified"] == str(truth["modify"])
    assert figures["errors"] == "1" and figures["redactions"] == "1"
    server_row = next(line for line in frame.splitlines() if line.startswith("fake "))
    responses = sum(1 for r in messages if r.get("kind") in ("result", "error"))
    # open sessions (the session has ended), messages, blocks, errors, error rate
    assert server_row.split()[-5:] == ["0", str(stats["messages"]), str(truth["block"]), "1", f"{1 / responses:.0%}"]
