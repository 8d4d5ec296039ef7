"""A hostile server under the default sandbox, through the real mcpwrap, as root and as an ordinary user.

The client is tests/sandbox/scenario.py (it starts ``mcpwrap wrap -- attacker``, asks the attacker for its
attacks and reports what came back and whether anything reached it around the relay); the server is
tests/sandbox/attacker.py. Each test builds a world in a fresh directory owned by the user it runs as: a
HOME with a planted SSH key, cloud credentials and a client configuration, a MCPWRAP_HOME with the audit key,
the policy, pins and approvals, and a project directory. A control run with ``sandbox: {enabled: false}``
shows the same attacks succeed without the sandbox, so the assertions can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from rig import EVERYTHING, FILESYSTEM, ROOT, TIME, VENV_BIN, read_audit, sdk_session, wrap_command
from sandbox.users import unprivileged_user

pytestmark = pytest.mark.integration
if not sys.platform.startswith("linux"):
    pytestmark = [pytestmark, pytest.mark.skip(reason="the kernel sandbox is Linux only")]

SCENARIO = ROOT / "tests" / "sandbox" / "scenario.py"
ATTACKER = ROOT / "tests" / "sandbox" / "attacker.py"
KEY = "0123456789abcdef" * 4


class World:
    def __init__(self, base: Path, user=None) -> None:
        self.base = base
        self.user = user
        self.home = base / "home"
        self.mcpwrap_home = base / "mcpwrap-home"
        self.project = base / "project"
        for d in (self.home / ".ssh", self.home / ".aws", self.mcpwrap_home / "pins", self.mcpwrap_home / "approvals", self.project):
            d.mkdir(parents=True)
        (self.home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nplanted\n")
        (self.home / ".aws" / "credentials").write_text("[default]\naws_secret_access_key = planted\n")
        (self.home / ".claude.json").write_text('{"mcpServers": {}}\n')
        (self.project / ".mcp.json").write_text('{"mcpServers": {}}\n')
        (self.mcpwrap_home / "audit.key").write_text(KEY)
        os.chmod(self.mcpwrap_home / "audit.key", 0o600)
        (self.mcpwrap_home / "pins" / "server.json").write_text("{}")
        (self.mcpwrap_home / "approvals" / "pending.json").write_text("{}")
        self.policy = self.mcpwrap_home / "policy.yaml"
        self.policy_text = "version: v1\n"
        self.agent_socket = str(base / "agent.sock")
        self._agent = socket.socket(socket.AF_UNIX)
        self._agent.bind(self.agent_socket)
        self._agent.listen(8)
        if user is not None:
            user.own(base)

    def write_policy(self, text: str) -> None:
        self.policy_text = text
        self.policy.write_text(text)
        if self.user is not None:
            self.user.own(self.policy)

    @property
    def protected(self) -> dict[Path, bytes]:
        files = (self.mcpwrap_home / "audit.key", self.policy, self.home / ".claude.json", self.project / ".mcp.json",
                 self.mcpwrap_home / "pins" / "server.json")
        return {p: p.read_bytes() for p in files if p.exists()}

    def attack(self, **extra) -> dict:
        spec = {
            "read": [str(self.home / ".ssh" / "id_rsa"), str(self.home / ".aws" / "credentials"), str(self.mcpwrap_home / "audit.key"),
                     str(self.policy), str(self.mcpwrap_home / "pins" / "server.json"), str(self.audit_log)],
            "write": [str(self.policy), str(self.mcpwrap_home / "audit.key"), str(self.audit_log), str(self.home / ".claude.json"),
                      str(self.project / ".mcp.json"), str(self.mcpwrap_home / "pins" / "server.json")],
            "list": [str(self.mcpwrap_home / "approvals"), str(self.mcpwrap_home / "pins")],
            "unix": [self.agent_socket],
        }
        spec.update(extra)
        return spec

    @property
    def audit_log(self) -> Path:
        return self.mcpwrap_home / "audit.jsonl"

    def run(self, attack: dict, *, python: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPWRAP", "PYTEST"))}
        env.update(HOME=str(self.home), MCPWRAP_HOME=str(self.mcpwrap_home), MCPWRAP_AUDIT_KEY=KEY)
        if self.policy.exists():
            self.policy.write_text(self.policy_text)
        python = python or (self.user.python if self.user else sys.executable)
        attacker = self.user.path("tests/sandbox/attacker.py") if self.user else str(ATTACKER)
        scenario = self.user.path("tests/sandbox/scenario.py") if self.user else str(SCENARIO)
        spec = {
            "mcpwrap": [python, "-m", "mcpwrap", "wrap", "--name", "attacker"],
            "server": [python, attacker],
            "attack": attack,
            "cwd": str(self.project),
        }
        argv = [python, scenario, json.dumps(spec)]
        if self.user is not None:
            argv = self.user.prefix() + argv
            env = self.user.env(env)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=str(self.project))
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout)
        assert out["results"] is not None, out
        return out

    def close(self) -> None:
        self._agent.close()


@pytest.fixture(params=["root", "user"])
def world(request):
    user = unprivileged_user() if request.param == "user" else None
    base = Path(tempfile.mkdtemp(prefix="mcpwrap-sandbox-"))
    os.chmod(base, 0o755)
    w = World(base, user)
    yield w
    w.close()
    shutil.rmtree(base, ignore_errors=True)


def by_kind(out: dict) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for r in out["results"]:
        kinds.setdefault(r["kind"], []).append(r)
    return kinds


def test_a_hostile_server_cannot_go_around_mcpwrap(world):
    world.write_policy("version: v1\n")
    before = world.protected
    # PID 1 of the server's namespace is mcpwrap's own copy (the namespace's init): attacked too
    out = world.run(world.attack(init_pids=[1]))
    succeeded = [r for r in out["results"] if r["ok"]]
    assert succeeded == [], json.dumps(succeeded, indent=1)
    assert not out["injected"]
    kinds = by_kind(out)
    # every attack was tried (a result per target), and against both the client and mcpwrap
    assert {r["target"] for r in kinds["proc-write-pipes"]} == {out["client_pid"], out["mcpwrap_pid"], 1}
    assert set(kinds) >= {
        "environment", "proc-write-pipes", "proc-read-stdin", "proc-environ", "proc-mem", "ptrace", "signal", "kill-init",
        "read", "write", "list", "create", "unix-connect",
    }
    assert world.protected == before
    # the server saw a PID namespace of its own
    info = kinds["info"][0]["detail"]
    assert info["ppid"] == 1 and max(info["visible_pids"]) < 10
    # what it was refused is in the audit log, with the server's name
    records = read_audit(world.audit_log)
    sandbox = [r for r in records if r["event"] == "sandbox"]
    assert sandbox and sandbox[0]["complete"] is True and sandbox[0]["server"] == "attacker"
    assert "MCPWRAP_AUDIT_KEY" in sandbox[0]["applied"]["environment"]["removed"]


def test_without_the_sandbox_the_same_attacks_succeed(world):
    # The control: proves the attacks above are real attacks, not ones the test could never see succeed.
    world.write_policy("version: v1\nsandbox: {enabled: false}\n")
    out = world.run(world.attack(write=[str(world.home / ".claude.json")]))
    ok = {(r["kind"], str(r["target"])) for r in out["results"] if r["ok"]}
    assert ("read", str(world.home / ".ssh" / "id_rsa")) in ok
    assert ("read", str(world.mcpwrap_home / "audit.key")) in ok
    assert ("write", str(world.home / ".claude.json")) in ok
    # mcpwrap is non-dumpable even unsandboxed, but the client's own /proc entries expose the same pipes
    assert ("proc-write-pipes", str(out["client_pid"])) in ok and out["injected"]
    assert ("signal", str(out["mcpwrap_pid"])) in ok
    assert ("unix-connect", world.agent_socket) in ok


def _outside_address() -> str:
    """An address of this machine that is not loopback (stands in for "the internet"), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
            addr = s.getsockname()[0]
        except OSError:
            addr = "127.0.0.1"
    return addr


class Listener:
    def __init__(self, host: str = "0.0.0.0") -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.received.append(conn.recv(100))
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_network_deny_and_hosts_keep_data_in(world):
    outside = _outside_address()
    listed, unlisted = Listener(), Listener()
    try:
        # deny: no connection at all, to the machine's own address or loopback
        world.write_policy("version: v1\nsandbox: {network: deny}\n")
        out = world.run(world.attack(read=[], write=[], list=[], unix=[], connect=[[outside, listed.port], ["127.0.0.1", listed.port]]))
        assert [r for r in out["results"] if r["ok"]] == []
        # hosts: only the listed host:port, and only through mcpwrap's proxy; the refusal is audited with the host
        world.write_policy(f"version: v1\nsandbox:\n  servers:\n    attacker: {{network: {{hosts: ['{outside}:{listed.port}']}}}}\n")
        out = world.run(world.attack(read=[], write=[], list=[], unix=[], connect=[[outside, listed.port]],
                                     proxy_connect=[[outside, listed.port], [outside, unlisted.port]]))
        results = {(r["kind"], r["target"]): r["ok"] for r in out["results"] if r["kind"] != "info"}
        assert results[("connect", f"{outside}:{listed.port}")] is False  # direct: no route out of the namespace
        assert results[("proxy-connect", f"{outside}:{listed.port}")] is True
        assert results[("proxy-connect", f"{outside}:{unlisted.port}")] is False
        assert b"exfiltrated\n" in listed.received and unlisted.received == []
        denied = [r for r in read_audit(world.audit_log) if r["event"] == "sandbox-denied" and r.get("host")]
        assert [(r["host"], r["port"], r["server"]) for r in denied] == [(outside, unlisted.port, "attacker")]
    finally:
        listed.close()
        unlisted.close()


# --- real servers, sandboxed by default ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_real_servers_work_sandboxed(tmp_path):
    audit = tmp_path / "audit.jsonl"
    files = tmp_path / "files"
    files.mkdir()
    (files / "note.txt").write_text("hello from a file")
    async with sdk_session(wrap_command([*FILESYSTEM, str(files)], audit_log=audit)) as session:
        read = await session.call_tool("read_text_file", {"path": str(files / "note.txt")})
        assert "hello from a file" in read.content[0].text
        wrote = await session.call_tool("write_file", {"path": str(files / "new.txt"), "content": "written"})
        assert not wrote.is_error
    assert (files / "new.txt").read_text() == "written"
    async with sdk_session(wrap_command(EVERYTHING, audit_log=audit)) as session:
        echo = await session.call_tool("echo", {"message": "sandboxed"})
        assert "sandboxed" in echo.content[0].text
    async with sdk_session(wrap_command(TIME, audit_log=audit)) as session:
        now = await session.call_tool("get_current_time", {"timezone": "UTC"})
        assert not now.is_error
    records = [r for r in read_audit(audit) if r["event"] == "sandbox"]
    assert len(records) == 3 and all(r["complete"] for r in records)


@pytest.mark.anyio
async def test_git_server_commits_in_its_repository_sandboxed(tmp_path):
    git_server = VENV_BIN / "mcp-server-git"
    if not git_server.exists():
        pytest.skip("mcp-server-git is not installed (bash .ci/setup.sh installs the test extras)")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("a\n")
    audit = tmp_path / "audit.jsonl"
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    async with sdk_session(wrap_command([str(git_server), "--repository", str(repo)], audit_log=audit), env=env) as session:
        added = await session.call_tool("git_add", {"repo_path": str(repo), "files": ["a.txt"]})
        assert not added.is_error, added.content
        committed = await session.call_tool("git_commit", {"repo_path": str(repo), "message": "from the sandbox"})
        assert not committed.is_error, committed.content
        # the repository's hooks are read only: a server must not plant code the person runs later
        hooks = await session.call_tool("git_status", {"repo_path": str(repo)})
        assert not hooks.is_error
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True).stdout
    assert log.strip() == "from the sandbox"



def test_the_sandbox_demo_shows_the_attack_only_the_sandbox_stops():
    out = subprocess.run([sys.executable, str(ROOT / "demos" / "sandbox_demo.py")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {line[:28].strip(): line[67:].strip() for line in out.stdout.splitlines()[1:4]}
    assert rows == {
        "directly (no mcpwrap)": "audit key, ssh key",
        "mcpwrap, sandbox off": "audit key, ssh key",
        "mcpwrap, default sandbox": "nothing",
    }
    assert "sandbox-denied" in out.stdout and ".ssh/id_rsa (credentials, EACCES)" in out.stdout
