from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import time

import pytest

from mcpwrap._sandbox import _linux, landlock, prepare
from mcpwrap._sandbox.plan import SandboxUnavailable
from mcpwrap._sandbox.settings import HostRule, ServerSandbox

from .conftest import need_abi

DEADLINE = 20.0


def run(script: str, settings: ServerSandbox = ServerSandbox(), *, env=None, cwd=None, protect=(), **kw):
    """prepare + popen a shell script; returns (returncode, stdout, plan, records)."""
    plan = prepare(["sh", "-c", script], env, cwd, settings, "test-server", protect=list(protect), **kw)
    records: list[tuple[str, dict]] = []
    child = plan.popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True, close_fds=True, cwd=cwd)
    out, _ = child.communicate(timeout=DEADLINE)
    plan.close()
    plan.attach(lambda event, **fields: records.append((event, fields)))
    return child.returncode, out.decode(), plan, records


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    (h / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    (h / ".claude.json").write_text("{}\n")
    return h


def base_env(home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPWRAP")}
    env["HOME"] = str(home)
    return env


def test_mcpwrap_variables_never_reach_the_server(home):
    need_abi(1)
    env = base_env(home) | {"MCPWRAP_AUDIT_KEY": "k" * 32, "MCPWRAP_HOME": "/x", "mcpwrap_other": "y", "KEEP": "1"}
    code, out, plan, records = run("env", env=env)
    assert code == 0
    assert not [line for line in out.splitlines() if line.upper().startswith("MCPWRAP")]
    assert "KEEP=1" in out
    assert plan.report.applied["environment"]["removed"] == ["MCPWRAP_AUDIT_KEY", "MCPWRAP_HOME", "mcpwrap_other"]
    assert records[0][0] == "sandbox" and records[0][1]["complete"] is True


def test_exit_status_and_signals_come_through_unchanged(home):
    need_abi(1)
    assert run("exit 7", env=base_env(home))[0] == 7
    assert run("kill -TERM $$", env=base_env(home))[0] == 128 + 15
    # a signal to the process group reaches the server (the relay forwards SIGTERM that way)
    plan = prepare(["sh"], base_env(home), None, ServerSandbox(), "t")
    child = plan.popen(["sh", "-c", "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done"], stdout=subprocess.PIPE, start_new_session=True)
    assert child.stdout.readline() == b"ready\n"
    os.killpg(child.pid, 15)
    assert child.wait(DEADLINE) == 3
    plan.close()


def test_the_server_sees_only_its_own_processes(home):
    need_abi(1)
    code, out, plan, _ = run("echo $$; ls /proc | grep -c '^[0-9]'", env=base_env(home))
    pid, count = out.split()
    assert pid == "2"  # PID 1 is the namespace's init, which waits for the server
    assert int(count) <= 4  # init, the server's shell, ls, grep
    assert "pid" in plan.report.applied["namespaces"]


def test_nothing_outlives_the_server(home, tmp_path):
    need_abi(1)
    marker = f"mcpwrap-sandbox-orphan-{os.getpid()}"
    code, _, _, _ = run(f"setsid sh -c 'exec -a {marker} sleep 300' & exit 0", env=base_env(home))
    assert code == 0
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        alive = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        if marker.encode() in f.read():
                            alive.append(p)
                except OSError:
                    pass
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"a daemon of the server survived it: {alive}")


def test_credentials_and_protected_files_are_refused_and_reported(home, tmp_path):
    need_abi(1)
    state = tmp_path / "state"
    state.mkdir()
    (state / "audit.key").write_text("k" * 32)
    script = f"cat {home}/.ssh/id_rsa; cat {state}/audit.key; echo x >> {home}/.claude.json; cat {home}/.claude.json; echo ok"
    code, out, plan, records = run(script, env=base_env(home), cwd=str(tmp_path), protect=[str(state)])
    assert out.split() == ["ok"]  # nothing leaked: the client's config holds its servers' keys, so it is not read either
    denied = {f["path"]: f["denied_by"] for e, f in records if e == "sandbox-denied"}
    assert denied == {
        f"{home}/.ssh/id_rsa": "credentials",
        f"{state}/audit.key": "mcpwrap",
        f"{home}/.claude.json": "credentials",
    }


def test_the_working_directory_and_temp_are_writable(home, tmp_path):
    need_abi(1)
    work = tmp_path / "work"
    work.mkdir()
    code, out, plan, _ = run("echo data > made.txt && cat made.txt && f=$(mktemp) && echo tmp ok", env=base_env(home), cwd=str(work))
    assert code == 0 and out.split() == ["data", "tmp", "ok"]
    # This HOME lies in the temporary directory: /tmp was split to protect HOME's credentials, so the server got
    # a private TMPDIR of its own (removed when the session ends).
    private = [n for n in plan.report.notes if "TMPDIR" in n]
    assert private and not os.path.exists(private[0].rsplit(" ", 1)[1])


def _listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def test_network_deny_leaves_no_way_out(home):
    need_abi(1)
    listener = _listener()
    port = listener.getsockname()[1]
    probe = f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\""
    try:
        assert run(probe, env=base_env(home))[1].strip() == "connected"  # allow (the default)
        code, out, plan, _ = run(probe + " || echo refused", ServerSandbox(network="deny"), env=base_env(home))
        assert out.strip().endswith("refused")
        assert plan.report.network == {"mode": "deny", "enforced_by": "network namespace"}
    finally:
        listener.close()


def test_hosts_mode_goes_through_the_proxy_and_audits_refusals(home):
    need_abi(1)
    allowed, other = _listener(), _listener()
    a_port, o_port = allowed.getsockname()[1], other.getsockname()[1]
    client = (
        "import os, socket, sys\n"
        "host, port = os.environ['HTTPS_PROXY'].split('//')[1].split(':')\n"
        "for target in sys.argv[1:]:\n"
        "    s = socket.create_connection((host, int(port)), timeout=5)\n"
        "    s.sendall(f'CONNECT {target} HTTP/1.1\\r\\n\\r\\n'.encode())\n"
        "    print(target, s.recv(100).split(b'\\r\\n')[0].decode())\n"
    )
    script_path = home / "client.py"
    script_path.write_text(client)
    settings = ServerSandbox(network="hosts", hosts=(HostRule("127.0.0.1", a_port),))
    try:
        code, out, plan, records = run(f"{sys.executable} {script_path} 127.0.0.1:{a_port} 127.0.0.1:{o_port} localhost:{a_port}", settings, env=base_env(home))
        lines = out.strip().splitlines()
        assert lines[0].endswith("200 Connection established"), out
        assert lines[1].endswith("403 Forbidden") and lines[2].endswith("403 Forbidden")
        denied = [(f["host"], f["port"]) for e, f in records if e == "sandbox-denied"]
        assert denied == [("127.0.0.1", o_port), ("localhost", a_port)]
        assert plan.report.network["enforced_by"] == "network namespace + proxy"
    finally:
        allowed.close()
        other.close()


def test_without_namespaces_landlock_still_holds_and_the_report_says_what_is_missing(home, monkeypatch):
    need_abi(1)
    real_unshare = _linux.unshare

    def refuse(flags):  # what a system with user namespaces disabled answers
        raise OSError(errno.EPERM, "unshare: Operation not permitted")

    monkeypatch.setattr(_linux, "unshare", refuse)
    code, out, plan, records = run(f"cat {home}/.ssh/id_rsa || echo refused; echo $$", env=base_env(home))
    assert out.split()[0] == "refused" and out.split()[1] != "2"
    assert [m["feature"] for m in plan.report.missing] == ["namespaces"]
    assert records[0][1]["complete"] is False
    monkeypatch.setattr(_linux, "unshare", real_unshare)


def test_require_refuses_what_cannot_be_applied(home, monkeypatch):
    monkeypatch.setattr(landlock, "abi_version", lambda: 0)
    with pytest.raises(SandboxUnavailable, match="Landlock"):
        prepare(["true"], base_env(home), None, ServerSandbox(require=True), "t")
    plan = prepare(["true"], base_env(home), None, ServerSandbox(), "t")
    assert plan.report.missing[0]["feature"] == "Landlock"
    assert "partial" in plan.report.summary()


def test_disabled_is_said_and_changes_nothing_but_the_environment(home):
    code, out, plan, records = run(f"cat {home}/.ssh/id_rsa; env", ServerSandbox(enabled=False), env=base_env(home) | {"MCPWRAP_AUDIT_KEY": "x" * 20})
    assert "PRIVATE KEY" in out and "MCPWRAP_AUDIT_KEY" not in out
    assert "disabled" in plan.report.summary()
    assert records[0][1]["enabled"] is False


def test_a_missing_command_is_reported_as_such(home):
    need_abi(1)
    plan = prepare(["/nonexistent/server"], base_env(home), None, ServerSandbox(), "t")
    with pytest.raises(FileNotFoundError):
        plan.popen(["/nonexistent/server"], stdout=subprocess.PIPE, start_new_session=True)


def test_project_configuration_is_read_only_and_stays_in_place(home, tmp_path):
    need_abi(1)
    project = tmp_path / "work" / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".mcp.json").write_text("{}\n")
    (project / ".claude" / "settings.json").write_text("{}\n")
    script = (
        "echo new > new.txt && echo created; "
        "echo '{\"mcpServers\":{\"evil\":{}}}' > .mcp.json || echo refused-write; "
        "rm -f .mcp.json || echo refused-remove; "
        "mv .mcp.json moved.json || echo refused-rename; "
        "echo hook > .claude/settings.json || echo refused-hooks; "
        "cd .. && mv project elsewhere || echo refused-move-project"
    )
    code, out, plan, records = run(script, env=base_env(home), cwd=str(project))
    assert out.split() == ["created", "refused-write", "refused-remove", "refused-rename", "refused-hooks", "refused-move-project"]
    assert (project / ".mcp.json").read_text() == "{}\n" and (project / "new.txt").exists()
    assert str(project / ".mcp.json") in plan.report.applied["read_only_mounts"]
    denied = {f["path"]: f["error"] for e, f in records if e == "sandbox-denied"}
    assert denied.get(str(project / ".mcp.json")) == "EROFS"


def test_namespaces_without_capabilities_fall_back_too(home, monkeypatch):
    # e.g. AppArmor's restriction of unprivileged user namespaces: unshare succeeds, mounting then fails
    need_abi(1)
    from mcpwrap._sandbox import namespaces

    def refuse():
        raise OSError(errno.EPERM, "mount /proc: Operation not permitted")

    monkeypatch.setattr(namespaces, "mount_proc", refuse)
    code, out, plan, _ = run(f"cat {home}/.ssh/id_rsa || echo refused", env=base_env(home))
    assert out.strip() == "refused"
    assert [m["feature"] for m in plan.report.missing] == ["namespaces"]
    assert any("mounting /proc" in n for n in plan.report.notes)


def test_other_systems_say_they_are_not_sandboxed(home, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    plan = prepare(["true"], base_env(home), None, ServerSandbox(), "srv")
    assert plan.launcher is None and plan.report.missing[0]["feature"] == "sandbox"
    assert plan.report.summary().startswith("not sandboxed")
    with pytest.raises(SandboxUnavailable):
        prepare(["true"], base_env(home), None, ServerSandbox(require=True), "srv")


def test_credential_stores_moved_by_the_environment_are_protected_there(home, tmp_path):
    # KUBECONFIG (a list), GNUPGHOME, DOCKER_CONFIG… say where the person keeps a store instead of its default place.
    need_abi(1)
    elsewhere = tmp_path / "work"
    (elsewhere / "gnupg").mkdir(parents=True)
    (elsewhere / "gnupg" / "key").write_text("GPG-SECRET")
    (elsewhere / "kube-a").write_text("KUBE-A-SECRET")
    (elsewhere / "kube-b").write_text("KUBE-B-SECRET")
    (elsewhere / "plain.txt").write_text("ordinary")
    env = base_env(home) | {"GNUPGHOME": str(elsewhere / "gnupg"), "KUBECONFIG": f"{elsewhere}/kube-a:{elsewhere}/kube-b"}
    script = f"cat {elsewhere}/gnupg/key {elsewhere}/kube-a {elsewhere}/kube-b {elsewhere}/plain.txt 2>/dev/null; echo done"
    code, out, plan, records = run(script, env=env, cwd=str(tmp_path))
    assert "SECRET" not in out and "ordinary" in out and "done" in out


def test_the_persons_own_home_is_protected_when_the_server_gets_another(home, tmp_path, monkeypatch):
    need_abi(1)
    real = tmp_path / "real-home"
    (real / ".ssh").mkdir(parents=True)
    (real / ".ssh" / "id_ed25519").write_text("REAL-KEY")
    monkeypatch.setenv("HOME", str(real))  # mcpwrap's own HOME: the person's
    code, out, plan, records = run(f"cat {real}/.ssh/id_ed25519 2>/dev/null; echo done", env=base_env(home), cwd=str(tmp_path))
    assert "REAL-KEY" not in out and "done" in out
