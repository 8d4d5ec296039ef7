"""A hostile server against the sandbox: each test starts the probe server (probe_server.py) through the real
``mcpwrap wrap`` — as root and as an unprivileged user — and asserts that one attack was refused.

Attacks that currently get through are marked ``xfail(strict=True)`` with the mechanism that should have
held: when the sandbox is fixed they pass, and the marker must go. See README.md in this directory.
"""

from __future__ import annotations

import errno
import os
import socket
import sys

import pytest

from .harness import UNPRIVILEGED, Scenario, unprivileged_available
from .probe_server import ATTACKS

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux only"),
    pytest.mark.skipif(not os.path.exists("/sys/kernel/security/landlock") and not os.path.exists("/proc/self/attr"),
                       reason="no Landlock"),
]

ALL = list(ATTACKS)


def _users() -> list:
    users = ["root" if os.getuid() == 0 else None]
    if os.getuid() != 0:
        import pwd

        users = [pwd.getpwuid(os.getuid()).pw_name]
    users.append(pytest.param(UNPRIVILEGED, marks=pytest.mark.skipif(not unprivileged_available(),
                                                                       reason=f"needs root and a user {UNPRIVILEGED}")))
    return users


USERS = _users()

SCENARIOS = {
    "default": {"cwd": "project", "bind_mirror": True},
    "deny": {"cwd": "project", "early_connect": True, "policy": "sandbox:\n  network: deny\n"},
    # localhost:{allowed_port} is the one listed destination; "vm"-style names stand in for a listed public
    # name whose DNS answers a loopback address (the machine's own host name resolves to 127.0.x.x)
    "hosts": {"cwd": "project", "allowed_name": "localhost",
              "policy": 'sandbox:\n  network:\n    hosts: ["localhost:{allowed_port}", "%s"]\n' % socket.gethostname()},
    "home": {"cwd": "home"},
    "audit_in_project": {"cwd": "project", "audit_in_project": True},
    "bare": {"cwd": "bare"},
    # HOME named on the server's command line under other spellings (a symlink, "/.", "//", "..")
    "home_spelled": {"cwd": "project", "server_args": ["{home}/.", "--dir={home}//", "{home}/code/proj/../..", "{base}/homelink"]},
    # user namespaces refused (no_userns.py refuses unshare): Landlock, seccomp and no_new_privs alone
    "fallback": {"cwd": "project", "no_userns": True},
    "fallback_deny": {"cwd": "project", "no_userns": True, "policy": "sandbox:\n  network: deny\n"},
    # the control for the F_SETOWN probe: without the sandbox it does end mcpwrap (only that probe runs)
    "unsandboxed_control": {"cwd": "project", "attacks": ["sigio_owner"], "policy": "sandbox:\n  enabled: false\n"},
    "elsewhere": {"cwd": "project", "home_override": True, "mcpwrap_home_elsewhere": True},
    # a valid policy asking for network: deny, spelled so that the quick read before the spawn misses it
    # (an apostrophe in a plain scalar makes the line scanner think the escaped key is inside single quotes)
    "fastpath_miss": {"cwd": "project", "early_connect": True,
                      "policy": '--- {rules: [{name: don\'t-run-shell, action: deny, match: {tools: [run_shell]}}], '
                                '"\\x73andbox": {network: deny}}\n'},
}

_cache: dict = {}


@pytest.fixture(scope="module")
def run():
    """run(user, scenario) -> (report, scenario); each (user, scenario) starts mcpwrap once per module."""
    made: list[Scenario] = []

    def _run(user: str, name: str):
        key = (user, name)
        if key not in _cache:
            spec = dict(SCENARIOS[name])
            s = Scenario(user=user, attacks=spec.pop("attacks", ALL), **spec)
            made.append(s)
            report = s.run_probe()
            report["changed"] = s.files_changed()
            _cache[key] = (report, s)
        return _cache[key]

    yield _run
    for s in made:
        s.cleanup()
    _cache.clear()


def _blocked(report: dict, attack: str) -> None:
    res = report["results"]
    assert res, f"the probe reported nothing (exit {report['returncode']}): {report['stderr'][-800:]!r}"
    assert res[attack]["through"] is False, res[attack]["detail"]


def _xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# --- the client and mcpwrap through /proc, fds, signals, ptrace, the terminal -------------------------------

PROCESS_ATTACKS = ["proc_fds", "proc_environ_mem", "inherited_fds", "env_secrets", "signal_outside", "ptrace_init", "tty",
                   "cgroup_write", "io_uring", "keyring", "nested_userns_mount", "detached_mount_clone", "kernel_knobs",
                   "no_new_privs_exec"]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", PROCESS_ATTACKS + ["foreign_pids_visible"])
def test_processes_out_of_reach(run, user, attack):
    report, _ = run(user, "default")
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", PROCESS_ATTACKS)
def test_processes_out_of_reach_without_namespaces(run, user, attack):
    """User namespaces refused: other processes are visible (documented), but Landlock still keeps their fd,
    environ, mem, ptrace and signals out of reach (mcpwrap is the parent here)."""
    report, _ = run(user, "fallback")
    assert any("partial" in line for line in report["stderr"].decode(errors="replace").splitlines())
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("scenario", ["default", pytest.param("fallback", marks=_xfail(
    "without user namespaces there is no PID namespace and nothing ends a daemon the server left (setsid + double "
    "fork): it outlives the session, still confined but running (documented only as 'sees other processes')"))])
def test_no_daemon_outlives_the_session(run, user, scenario):
    report, _ = run(user, scenario)
    assert report["results"], report["stderr"][-500:]
    assert report["daemon_alive"] is False


@pytest.mark.parametrize("user", USERS)
def test_kernel_cannot_be_made_to_signal_mcpwrap(run, user):
    """F_SETOWN + O_ASYNC + F_SETSIG on the stdout pipe names mcpwrap (the parent without a PID namespace):
    Landlock's signal scope must refuse the SIGIO. The control shows the probe ends an unsandboxed mcpwrap."""
    control, _ = run(user, "unsandboxed_control")
    assert control["returncode"] == -12  # SIGUSR2: the probe works
    report, _ = run(user, "fallback")
    assert report["returncode"] == 0 and b'"serverInfo"' in report["stdout"]


@pytest.mark.parametrize("user", USERS)
def test_server_still_answers_after_its_attacks(run, user):
    """The probes did not break the session (a hang here would mean a probe stalled mcpwrap)."""
    report, _ = run(user, "default")
    assert b'"serverInfo"' in report["stdout"]


@pytest.mark.parametrize("user", USERS)
def test_stderr_cannot_carry_terminal_escapes_or_pose_as_mcpwrap(run, user):
    report, _ = run(user, "default")
    err = report["stderr"]
    assert b"\x1b]52;" not in err and b"\x1b]0;" not in err
    assert not any(line.lstrip(b"\r").startswith(b"mcpwrap: sandbox for 'probe' disabled") for line in err.split(b"\n"))


# --- mcpwrap's own files --------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", ["read_mcpwrap_files", "write_mcpwrap_files", "symlink_into_protected",
                                    "hardlink_protected", "rename_protected_dir"])
@pytest.mark.parametrize("scenario", ["default", "fallback"])
def test_mcpwrap_files_out_of_reach(run, user, attack, scenario):
    report, _ = run(user, scenario)
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
def test_audit_log_in_a_writable_directory(run, user):
    """--audit-log ./mcp-audit.jsonl in the server's working directory: its lock, rotated names, the file."""
    report, _ = run(user, "audit_in_project")
    _blocked(report, "audit_log_neighbours")
    _blocked(report, "write_mcpwrap_files")
    assert b'"serverInfo"' in report["stdout"]


@pytest.mark.parametrize("user", USERS)
def test_other_mcpwrap_home_out_of_reach(run, user):
    report, _ = run(user, "elsewhere")
    _blocked(report, "other_mcpwrap_home")


@pytest.mark.parametrize("user", USERS)
@_xfail("low: Landlock refuses listing a protected directory but not an inotify watch on it: the server learns the "
        "names of files created in MCPWRAP_HOME/approvals and ~/.ssh, and when the person or mcpwrap opens them")
def test_no_watch_on_protected_directories(run, user):
    report, _ = run(user, "default")
    assert report["inotify"] == [] or not report["results"]["inotify_protected"]["through"], report["inotify"][:5]
    _blocked(report, "inotify_protected")


# --- credentials ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", ["read_credentials", "proc_root_path", "open_by_handle"])
@pytest.mark.parametrize("scenario", ["default", "fallback"])
def test_credentials_out_of_reach(run, user, attack, scenario):
    report, _ = run(user, scenario)
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
def test_bind_mounted_credential_store(run, user):
    report, scenario = run(user, "default")
    if scenario.mirror is None:
        pytest.skip("needs root to bind-mount ~/.ssh elsewhere before the session")
    _blocked(report, "bind_mounted_store")


@pytest.mark.parametrize("user", USERS)
def test_credential_stores_relocated_by_environment(run, user):
    report, _ = run(user, "default")
    _blocked(report, "env_relocated_credentials")


@pytest.mark.parametrize("user", USERS)
def test_unlisted_credential_stores(run, user):
    report, _ = run(user, "default")
    _blocked(report, "read_unlisted_credentials")


@pytest.mark.parametrize("user", [p for p in USERS if p != "root"])
def test_real_home_when_home_is_overridden(run, user):
    report, _ = run(user, "elsewhere")
    _blocked(report, "passwd_home_credentials")


# --- what runs later as the person -------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", ["write_client_configs", "read_only_bind_tricks"])
@pytest.mark.parametrize("scenario", ["default", "fallback"])
def test_client_configs_read_only(run, user, attack, scenario):
    report, _ = run(user, scenario)
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
@_xfail("documented as 'unprotected' (no inode to protect), yet the most direct way to run code as the person: in "
        "a project without them the server creates .mcp.json, .claude/settings.json (hooks), .cursor/mcp.json, "
        ".vscode/tasks.json")
def test_missing_project_configs_cannot_be_created(run, user):
    report, _ = run(user, "bare")
    sandbox = [a for a in report["audit"] if a.get("event") == "sandbox"]
    assert sandbox and any(p.endswith("/bare/.mcp.json") for p in sandbox[0].get("unprotected", []))  # it is said
    _blocked(report, "create_missing_project_configs")


@pytest.mark.parametrize("user", USERS)
def test_listed_start_up_files_read_only(run, user):
    report, _ = run(user, "default")
    _blocked(report, "write_run_later")


@pytest.mark.parametrize("user", USERS)
@_xfail("~/.local/bin is read only, but ~/.local/bin/black is a symlink into ~/.local/share/uv/tools (writable "
        "package cache): the server rewrites a program the person runs from PATH")
def test_path_entries_pointing_into_caches(run, user):
    report, _ = run(user, "default")
    _blocked(report, "path_symlink_target")


@pytest.mark.parametrize("user", USERS)
@_xfail("~/.bun, ~/.deno, ~/.local/share/pnpm, ~/.yarn are writable caches and their bin/ directories are protected "
        "only when on the server's PATH (a desktop-launched client's is short): bun, deno, pnpm, yarn are replaced")
def test_tool_executables_in_cache_homes(run, user):
    report, _ = run(user, "default")
    _blocked(report, "tool_bin_dirs")


@pytest.mark.parametrize("user", USERS)
@_xfail("~/.rustup and ~/.cache are writable whole: a toolchain's rustc (run by every cargo build) and "
        "pre-commit hook environments (run by git commit) are code the person runs later")
def test_code_in_caches(run, user):
    report, _ = run(user, "default")
    _blocked(report, "cache_code")


@pytest.mark.parametrize("user", USERS)
@_xfail("only the working directory and its ancestors get .mcp.json/.claude/.vscode/.envrc protection: a project "
        "below it (a server given ~/code) has its .mcp.json, .claude/settings.json (hooks), .vscode/tasks.json, "
        ".envrc writable")
def test_nested_project_configs(run, user):
    report, _ = run(user, "default")
    _blocked(report, "nested_project_configs")


@pytest.mark.parametrize("user", USERS)
@_xfail("working directory = HOME (what several clients use): project configs below it are writable "
        "(~/code/proj/.mcp.json, .claude/settings.json, .vscode/tasks.json)")
def test_client_configs_when_cwd_is_home(run, user):
    report, _ = run(user, "home")
    _blocked(report, "write_client_configs")


@pytest.mark.parametrize("user", USERS)
@_xfail("working directory = HOME: ~/.gitconfig (core.pager/fsmonitor/aliases run on every git command), "
        "~/.config/git/config, ~/.bash_logout, ~/.zlogin, ~/.tmux.conf, docker CLI plugins, nvim init, pip.conf "
        "and a .pth in the user site-packages (runs at every Python start) are writable")
def test_unlisted_start_up_files_when_cwd_is_home(run, user):
    report, _ = run(user, "home")
    _blocked(report, "write_run_later_unlisted")


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", ["write_run_later_unlisted", "write_run_later", "read_credentials"])
def test_home_spelled_otherwise_on_the_command_line_is_not_granted(run, user, attack):
    report, _ = run(user, "home_spelled")
    _blocked(report, attack)


@pytest.mark.parametrize("user", USERS)
def test_listed_start_up_files_when_cwd_is_home(run, user):
    report, scenario = run(user, "home")
    _blocked(report, "write_run_later")
    listed = set(scenario.config["run_later"]) | {str(scenario.home / ".claude.json")}
    assert not listed & set(report["changed"])


@pytest.mark.parametrize("user", USERS)
@_xfail("/dev/shm is writable whole: shared-memory files of the person's other programs can be rewritten")
def test_shared_memory_of_other_programs(run, user):
    report, _ = run(user, "default")
    _blocked(report, "shared_memory")


# --- local sockets ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("attack", ["unix_socket_create", "unix_stream_connect", "unix_abstract"])
def test_local_sockets(run, user, attack):
    report, _ = run(user, "default")
    _blocked(report, attack)
    assert not [h for h in report["hits"] if h.startswith(("unix-stream", "abstract"))]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("scenario", ["default", "deny"])
def test_unix_datagram_to_outside(run, user, scenario):
    report, _ = run(user, scenario)
    _blocked(report, "unix_dgram_send")
    assert not [h for h in report["hits"] if h.startswith("unix-dgram")]


# --- network -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("scenario", ["deny", "hosts"])
def test_no_direct_connection(run, user, scenario):
    report, _ = run(user, scenario)
    _blocked(report, "direct_tcp")
    assert not [h for h in report["hits"] if h.startswith(("tcp from", "udp"))]


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("scenario", ["deny", "hosts", "fallback_deny"])
def test_no_tcp_by_another_protocol_number(run, user, scenario):
    report, _ = run(user, scenario)
    _blocked(report, "tcp_other_protocols")


@pytest.mark.parametrize("user", USERS)
def test_no_tcp_without_namespaces_under_deny(run, user):
    """Without a network namespace Landlock refuses TCP (UDP stays open: documented, and said on stderr)."""
    report, _ = run(user, "fallback_deny")
    assert b"UDP stays open" in report["stderr"]
    _blocked(report, "direct_tcp")


def _vsock_reaches_host() -> bool:
    try:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    except (OSError, AttributeError):
        return False
    s.settimeout(2)
    try:
        s.connect((2, 1))
        return True
    except OSError as exc:
        return exc.errno in (errno.ECONNRESET, errno.ECONNREFUSED)
    finally:
        s.close()


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("scenario", ["deny", "hosts"])
@pytest.mark.skipif(not _vsock_reaches_host(), reason="no vsock transport to a host on this machine")
def test_vsock_under_network_limits(run, user, scenario):
    report, _ = run(user, scenario)
    _blocked(report, "vsock")


@pytest.mark.parametrize("user", USERS)
def test_proxy_refuses_unlisted_destinations(run, user):
    report, _ = run(user, "hosts")
    _blocked(report, "proxy_spellings")
    # only the listed localhost:{allowed_port}, or the rebinding probe's listener, may have been reached
    assert not [h for h in report["hits"] if h.startswith(("tcp from", "udp"))]
    denied = [a for a in report["audit"] if a.get("event") == "sandbox-denied"]
    assert denied and all("host" in a for a in denied)


@pytest.mark.parametrize("user", USERS)
def test_listed_name_resolving_to_loopback(run, user):
    report, _ = run(user, "hosts")
    _blocked(report, "proxy_listed_name_to_loopback")
    assert not [h for h in report["hits"] if h.startswith("rebind")]


# --- start-up ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", USERS)
@_xfail("the server is started with the sandbox the quick line scan of the policy found (defaults, network allow) "
        "and restarted once the full load disagrees: the first instance has already run and connected out")
def test_network_deny_holds_from_the_first_instruction(run, user):
    report, _ = run(user, "fastpath_miss")
    sandbox = [a for a in report["audit"] if a.get("event") == "sandbox"]
    assert sandbox and sandbox[0]["network"]["mode"] == "deny"  # the policy was understood in the end
    assert not [h for h in report["hits"] if h.startswith(("tcp from", "udp"))], report["hits"]


@pytest.mark.parametrize("user", USERS)
def test_previous_session_cannot_downgrade_the_next(user):
    import json as _json

    s = Scenario(user=user, cwd="bare", attacks=["plant_downgrade_symlink"], policy="sandbox:\n  network: deny\n")
    try:
        first = s.run_probe()
        assert first["results"], first["stderr"][-500:]
        s.config["attacks"] = ["tcp_other_protocols", "foreign_pids_visible"]
        (s.base / "probe.json").write_text(_json.dumps(s.config))
        second = s.run_probe()
        assert second["results"], second["stderr"][-500:]
        sandbox = [a for a in second["audit"] if a.get("event") == "sandbox"][-1]
        assert "net" in sandbox["applied"].get("namespaces", []), sandbox.get("notes")
        _blocked(second, "tcp_other_protocols")
        _blocked(second, "foreign_pids_visible")
    finally:
        s.cleanup()
