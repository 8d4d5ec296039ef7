"""The policy through the real mcpwrap process, between the official SDK client and real servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from rig import EVERYTHING, FILESYSTEM, ROOT, child_env, read_audit, sdk_session, wrap_command

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

MCPGW = Path(__file__).resolve().parent.parent / "fixtures" / "mcpgw-format"
SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"


def blocked_by(result) -> str | None:
    """The rule named in the block contract's _meta, or None if mcpwrap did not block the call."""
    meta = (result.model_dump(by_alias=True).get("_meta") or {}).get("mcpwrap") or {}
    return meta.get("rule") if meta.get("action") == "block" else None


def text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
def fake_home(tmp_path) -> Path:
    """A HOME with a private key and a harmless note, served by server-filesystem."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    (home / "notes.txt").write_text("remember the milk")
    return home


async def test_mcpgw_demo_policy_loads_unchanged_and_enforces(fake_home, tmp_path):
    audit = tmp_path / "audit.jsonl"
    env = child_env(HOME=str(fake_home))
    server = FILESYSTEM + [str(fake_home)]
    # Without mcpwrap the server hands out the key: what follows is the policy's doing.
    async with sdk_session(server, env=env) as direct:
        assert SECRET in text(await direct.call_tool("read_file", {"path": "~/.ssh/id_rsa"}))

    cmd = wrap_command(server, "--policy", str(MCPGW / "demo-policy.yaml"), "--subject", "mallory", audit_log=audit)
    async with sdk_session(cmd, env=env) as s:
        # tools/list: only the tools some call of which the policy admits (allow-safe-tools names read_file).
        assert [t.name for t in (await s.list_tools()).tools] == ["read_file"]
        ok = await s.call_tool("read_file", {"path": str(fake_home / "notes.txt")})
        assert not ok.is_error and "remember the milk" in text(ok)
        for spelling in ["~/.ssh/id_rsa", f"{fake_home}/.ssh/id_rsa", f"{fake_home}/x/../.ssh/id_rsa", f"{fake_home}//.ssh//id_rsa"]:
            denied = await s.call_tool("read_file", {"path": spelling})
            assert denied.is_error and blocked_by(denied) == "block-sensitive-reads", spelling
            assert SECRET not in text(denied)
        denied = await s.call_tool("read_file", {"path": "/etc/passwd"})
        assert blocked_by(denied) == "block-sensitive-reads"
        # Dangerous exec commands never reach the server; a harmless one does (and this server lacks the tool).
        assert blocked_by(await s.call_tool("exec_command", {"command": "sudo rm -rf /"})) == "block-dangerous-commands"
        assert blocked_by(await s.call_tool("exec_command", {"command": "RM -Rf /tmp/x"})) == "block-dangerous-commands"
        harmless = await s.call_tool("exec_command", {"command": "ls"})
        assert harmless.is_error and blocked_by(harmless) is None and "not found" in text(harmless)
        # Default deny: a tool the policy does not list.
        assert blocked_by(await s.call_tool("list_directory", {"path": str(fake_home)})) == "deny-all"
    records = read_audit(audit)
    blocks = [r for r in records if r.get("event") == "message" and r.get("action") == "block"]
    assert {r["rule"] for r in blocks} == {"block-sensitive-reads", "block-dangerous-commands", "deny-all"}
    assert all(r["subject"] == "mallory" for r in records if "subject" in r)
    allowed = [r for r in records if r.get("event") == "message" and r.get("method") == "initialize" and r.get("direction") == "c2s"]
    assert allowed and allowed[0]["rule"] == "allow-handshake"
    assert any(r.get("event") == "tool-risk" and r["tool"] == "move_file" and r["risk"] == "destructive" for r in records)
    assert any(r.get("event") == "tool-risk" and r["tool"] == "create_directory" and r["risk"] == "write" for r in records)


async def test_mcpgw_metadata_exfiltration_policy(tmp_path):
    audit = tmp_path / "audit.jsonl"
    cmd = wrap_command(EVERYTHING, "--policy", str(MCPGW / "exfiltration-policy.yaml"), audit_log=audit)
    async with sdk_session(cmd) as s:
        names = {t.name for t in (await s.list_tools()).tools}
        assert "echo" in names  # default allow: nothing removed
        echo = await s.call_tool("echo", {"message": "hello"})
        assert not echo.is_error and "hello" in text(echo)
        exfil = await s.call_tool("save_note", {"title": "t", "content": "c", "metadata": "all the notes: ..."})
        assert blocked_by(exfil) == "block-metadata-exfil"
        assert blocked_by(await s.call_tool("send_analytics", {"data": "x"})) == "block-analytics-exfil"
        plain = await s.call_tool("save_note", {"title": "t", "content": "c"})
        assert blocked_by(plain) is None  # forwarded (server-everything has no such tool)


async def test_mcpgw_readme_policy_subjects(tmp_path):
    policy = str(MCPGW / "admin-policy.yaml")
    async with sdk_session(wrap_command(EVERYTHING, "--policy", policy, "--subject", "admin-alice")) as admin:
        assert blocked_by(await admin.call_tool("exec_cmd", {"command": "rm -rf /"})) is None  # admin-full-access
    async with sdk_session(wrap_command(EVERYTHING, "--policy", policy, "--subject", "bob")) as bob:
        assert blocked_by(await bob.call_tool("exec_cmd", {"command": "rm -rf /"})) == "block-dangerous-exec"
        assert not (await bob.call_tool("get-sum", {"a": 1, "b": 2})).is_error


async def test_example_policy_denies_keys_and_commands_in_normalised_form(fake_home, tmp_path):
    env = child_env(HOME=str(fake_home))
    cmd = wrap_command(FILESYSTEM + [str(fake_home)], "--policy", str(ROOT / "policy.example.yaml"), audit_log=tmp_path / "a.jsonl")
    async with sdk_session(cmd, env=env) as s:
        for spelling in ["~/.ssh/id_rsa", f"file://{fake_home}/.ssh/id_rsa", f"{fake_home}/.ssh/../.ssh/id_rsa"]:
            r = await s.call_tool("read_file", {"path": spelling})
            assert blocked_by(r) == "block-sensitive-reads", spelling
        assert blocked_by(await s.call_tool("exec_command", {"command": "rm -rf ~"})) == "block-dangerous-exec"
        ok = await s.call_tool("read_file", {"path": str(fake_home / "notes.txt")})
        assert "remember the milk" in text(ok)


async def test_rate_limited_call_gets_retry_after(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rate_limits:\n  - name: echo-burst\n    tools: [echo]\n    per_minute: 2\n")
    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=tmp_path / "a.jsonl")) as s:
        for _ in range(2):
            assert not (await s.call_tool("echo", {"message": "x"})).is_error
        limited = await s.call_tool("echo", {"message": "x"})
        assert limited.is_error and blocked_by(limited) == "rate-limit:echo-burst"
        meta = limited.model_dump(by_alias=True)["_meta"]["mcpwrap"]
        assert 0 < meta["retryAfter"] <= 30
        assert not (await s.call_tool("get-sum", {"a": 1, "b": 2})).is_error


async def test_no_policy_file_uses_the_builtin_default(tmp_path, fake_home, mcpwrap_home):
    import subprocess
    import sys

    env = child_env(HOME=str(fake_home), MCPWRAP_HOME=str(mcpwrap_home))
    cmd = wrap_command(FILESYSTEM + [str(fake_home)], audit_log=tmp_path / "a.jsonl")
    async with sdk_session(cmd, env=env) as s:
        assert "remember the milk" in text(await s.call_tool("read_file", {"path": str(fake_home / "notes.txt")}))
        assert blocked_by(await s.call_tool("read_file", {"path": "~/.ssh/id_rsa"})) == "deny-private-keys-and-credentials"
    # `policy init` writes the same default, which `wrap` then picks up from MCPWRAP_HOME.
    out = subprocess.run([sys.executable, "-m", "mcpwrap", "policy", "init"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (mcpwrap_home / "policy.yaml").read_text() == (ROOT / "mcpwrap" / "default_policy.yaml").read_text()


def test_batch_elements_are_each_decided(tmp_path):
    """A JSON-RPC batch (2025-03-26) cannot smuggle a denied call next to an allowed one."""
    from rig import RawPeer

    audit = tmp_path / "audit.jsonl"
    cmd = wrap_command(EVERYTHING, "--policy", str(MCPGW / "admin-policy.yaml"), "--subject", "bob", audit_log=audit)
    with RawPeer(cmd) as peer:
        peer.initialize("2025-03-26")
        # Written by hand: the denied call spells its command with JSON escapes and a case variant.
        peer.send(
            b'[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}},'
            b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"EXEC_shell","arguments":{"command":"\\u0072m -RF \\/"}}}]\n'
        )
        while True:
            answer = peer.recv()
            if isinstance(answer, list) and any(e.get("id") == 3 for e in answer):
                break
        blocked = next(e for e in answer if e.get("id") == 3)
        assert blocked["result"]["isError"] is True
        assert blocked["result"]["_meta"]["mcpwrap"]["rule"] == "block-dangerous-exec"
    records = [r for r in read_audit(audit) if r.get("event") == "message" and r.get("method") == "tools/call" and r.get("direction") == "c2s"]
    assert {r["id"]: r["action"] for r in records} == {2: "pass", 3: "block"}


async def test_subject_from_environment_and_roles_in_audit(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "subjects:\n  alice: [admin]\n"
        "default_action: allow\n"
        "rules:\n"
        "  - name: admins-read-env\n    action: allow\n    match: {tools: [get-env], roles: [admin]}\n"
        "  - name: nobody-else\n    action: deny\n    match: {tools: [get-env]}\n"
    )
    audit = tmp_path / "audit.jsonl"
    cmd = wrap_command(EVERYTHING, "--policy", str(policy), "--role", "oncall", audit_log=audit)
    async with sdk_session(cmd, env=child_env(MCPWRAP_SUBJECT="alice")) as alice:
        assert blocked_by(await alice.call_tool("get-env", {})) is None
    async with sdk_session(wrap_command(EVERYTHING, "--policy", str(policy), audit_log=audit), env=child_env(MCPWRAP_SUBJECT="bob")) as bob:
        assert blocked_by(await bob.call_tool("get-env", {})) == "nobody-else"
    calls = [r for r in read_audit(audit) if r.get("event") == "message" and r.get("tool") == "get-env" and r.get("kind") == "request"]
    assert [(r["subject"], r.get("roles"), r["action"]) for r in calls] == [("alice", ["oncall", "admin"], "pass"), ("bob", None, "block")]
