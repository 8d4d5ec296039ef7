"""The default profile and how it becomes Landlock rules.

What a wrapped server gets by default (each list is data, extended by the policy's ``sandbox`` section):

- **read and execute** the whole system (``/``), except what the lists below take away;
- **read and write** its working directory (unless that is ``/``), the paths named in its command line,
  the temporary directories, and its package managers' caches (:data:`CACHES`);
- **the devices** every program opens (:data:`DEVICES`); nothing else under ``/dev`` (no raw disks, no
  terminals: a server must not read or type into the person's terminal);
- **nothing at all** of mcpwrap's own files (``MCPWRAP_HOME``, the policy file, the audit log and its key,
  pins, approvals: the caller passes them) nor of the credential stores (:data:`CREDENTIALS`);
- **read only** the configuration of every MCP client and the files that run code later on the person's
  behalf (:data:`READ_ONLY`): a server must not unwrap itself, add servers, or plant hooks.

Landlock only grants. "Everything beneath X except Y" is built by granting X's entries one by one, down the
path to Y (:func:`compile_rules`). Consequences, by design and documented for users:

- *Paths created later* beside a protected path get no rule: e.g. with the working directory at ``$HOME``,
  the server can write into every existing entry of ``$HOME`` but cannot create a new file directly in it.
- *Symbolic links* are never given rules themselves: access through a link is decided where it points.
  Each protected path is also protected under its resolved name (a ``~/.ssh`` that links elsewhere).
- *Bind mounts*: a protected directory mounted a second time elsewhere is found in ``/proc/self/mountinfo``
  and protected there too. *Hard links* to a protected file made before the session are not (Landlock
  checks the path used); protected files with more than one link are reported.
- A protected path that does not exist yet (a ``.mcp.json`` the project has not got) has no inode to attach
  a rule to; inside a writable directory a server could create it. Such paths are listed in the report.
"""

from __future__ import annotations

import glob
import os
import stat

from ._values import Frozen, Value
from .landlock import DEVICE, FILE_RIGHTS, READ, WRITE

__all__ = [
    "CREDENTIALS",
    "ROOT_CREDENTIALS",
    "READ_ONLY",
    "PROJECT_READ_ONLY",
    "CACHES",
    "CREATED_CACHES",
    "DEVICES",
    "TEMP_DIRS",
    "Grant",
    "Limit",
    "pins_for",
    "RENAME_RIGHTS",
    "Rules",
    "compile_rules",
    "mount_aliases",
]

# Credential stores: neither read nor written. "~" is the server's HOME; globs are expanded at start.
CREDENTIALS: tuple[str, ...] = (
    # keys and cloud credentials
    "~/.ssh", "~/.gnupg", "~/.aws", "~/.azure", "~/.config/gcloud", "~/.kube", "~/.docker/config.json",
    "~/.config/containers/auth.json", "$XDG_RUNTIME_DIR/containers/auth.json", "~/.oci", "~/.config/doctl",
    # tokens of tools and registries
    "~/.netrc", "~/.git-credentials", "~/.config/git/credentials", "~/.config/gh", "~/.config/hub",
    "~/.npmrc", "~/.pypirc", "~/.cargo/credentials", "~/.cargo/credentials.toml", "~/.gem/credentials",
    "~/.terraform.d/credentials.tfrc.json", "~/.vault-token", "~/.pgpass", "~/.my.cnf",
    "~/.cache/huggingface/token", "~/.huggingface/token", "~/.config/rclone/rclone.conf",
    "~/.s3cfg", "~/.boto", "~/.m2/settings.xml", "~/.gradle/gradle.properties", "~/.composer/auth.json",
    "~/.config/composer/auth.json", "~/.wrangler", "~/.config/.wrangler", "~/.local/share/com.vercel.cli", "~/.vercel",
    "~/.netlify", "~/.config/netlify", "~/.config/github-copilot", "~/.kaggle", "~/.config/sops", "~/.config/age",
    "~/.fly", "~/.config/helm/repositories.yaml", "~/.databrickscfg", "~/.snowflake", "~/.config/hcloud",
    # the same stores where the environment moves them (KUBECONFIG may list several files)
    "$KUBECONFIG", "$AWS_SHARED_CREDENTIALS_FILE", "$AWS_CONFIG_FILE", "$DOCKER_CONFIG", "$GNUPGHOME",
    "$CLOUDSDK_CONFIG", "$PASSWORD_STORE_DIR", "$GH_CONFIG_DIR", "$AZURE_CONFIG_DIR", "$KAGGLE_CONFIG_DIR",
    "$NETRC", "$PGPASSFILE", "$SOPS_AGE_KEY_FILE", "$GOOGLE_APPLICATION_CREDENTIALS", "$REGISTRY_AUTH_FILE",
    # AI clients' own sign-in tokens, and the files where MCP clients keep their servers (with those servers'
    # environment: API keys); a server has no need to read another server's entry
    "~/.claude/.credentials.json", "~/.codex/auth.json", "~/.gemini/oauth_creds.json",
    "~/.claude.json", "~/.claude.json.backup*", "~/.cursor/mcp.json", "~/.config/Claude/claude_desktop_config.json",
    "~/.codeium/windsurf/mcp_config.json", "~/.config/Code/User/mcp.json", "~/.config/Code - Insiders/User/mcp.json",
    # shell and REPL histories (tokens exported or typed on command lines)
    "~/.bash_history", "~/.zsh_history", "~/.histfile", "~/.local/share/fish/fish_history", "~/.python_history",
    "~/.node_repl_history", "~/.psql_history", "~/.mysql_history", "~/.sqlite_history", "~/.lesshst",
    # password managers and keyrings
    "~/.password-store", "~/.local/share/keyrings", "~/.local/share/kwalletd", "~/.config/Bitwarden",
    "~/.config/Bitwarden CLI", "~/.config/1Password", "~/.1password", "~/.config/op", "~/.config/keepassxc",
    # browser profiles (cookies, saved passwords, sessions) and their caches
    "~/.mozilla", "~/.config/google-chrome", "~/.config/chromium", "~/.config/BraveSoftware",
    "~/.config/microsoft-edge", "~/.config/vivaldi", "~/.config/opera", "~/.cache/mozilla",
    "~/.cache/google-chrome", "~/.cache/chromium", "~/snap/firefox", "~/snap/chromium",
    "~/.var/app/org.mozilla.firefox", "~/.var/app/com.google.Chrome", "~/.var/app/org.chromium.Chromium",
)
# The system's own secrets: only root can read them anyway, so they are limits only for a server run as root
# (each splits /etc into one rule per entry).
ROOT_CREDENTIALS: tuple[str, ...] = ("/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_*_key", "/etc/sudoers", "/etc/sudoers.d")

# Read but never written: MCP clients' configuration (a server must not unwrap itself or add servers) and
# files whose content runs later as the person (shell start-up, autostart, user services, PATH entries).
READ_ONLY: tuple[str, ...] = (
    "~/.claude", "$CLAUDE_CONFIG_DIR", "~/.cursor", "~/.config/Cursor",
    "~/.vscode", "~/.config/Code", "~/.config/Code - Insiders", "~/.config/VSCodium", "~/.codeium",
    "~/.config/Claude", "~/.config/zed", "~/.continue", "~/.gemini", "~/.codex",
    "~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.profile", "~/.zshrc", "~/.zshenv", "~/.zprofile",
    "~/.config/fish", "~/.config/autostart", "~/.config/systemd", "~/.local/bin", "~/bin", "~/.ssh/rc",
)

# The same for every project directory the server may write (its working directory and its ancestors up to
# HOME, and the directories it is given): project MCP configuration, editor tasks, hooks that git or direnv run.
PROJECT_READ_ONLY: tuple[str, ...] = (".mcp.json", ".claude", ".cursor", ".vscode", ".envrc")
# Not listed: .git/hooks and .git/config. Protecting anything inside .git splits .git, and git must create
# files there (index.lock, …); a server that may write a repository can plant hooks (docs/sandbox.md).

# Package managers' caches, written by `npx -y`, `uvx`, `pip`, node-gyp and friends.
CACHES: tuple[str, ...] = (
    "~/.npm", "~/.cache", "~/.local/share/uv", "~/.local/share/pnpm", "~/.yarn", "~/.bun", "~/.deno",
    "~/.node-gyp", "~/.cargo/registry", "~/.cargo/git", "~/.rustup",
)
# Created (0700) when missing, so that a first `npx -y`/`uvx` does not fail on a read-only HOME.
CREATED_CACHES: tuple[str, ...] = ("~/.npm", "~/.cache")

DEVICES: tuple[str, ...] = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
TEMP_DIRS: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "$TMPDIR")


class Grant(Frozen):
    """``rights`` beneath ``path``. ``source``: system | cwd | temp | cache | device | argument | policy.
    ``override``: may reach inside overridable limits (the policy's own allow lists, devices)."""

    __slots__ = ("path", "rights", "source", "override")
    path: str
    rights: int
    source: str
    override: bool

    def __init__(self, path: str, rights: int, source: str, override: bool = False) -> None:  # hot: no generic init
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "rights", rights)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "override", override)


class Limit(Frozen):
    """At most ``allowed`` (0: nothing; READ: read only) at and beneath ``path``. ``reason``: mcpwrap |
    credentials | read-only | device | policy | pin. A ``pin`` only keeps ``path`` from being renamed or
    removed (its parent is split; it keeps its own rights)."""

    __slots__ = ("path", "allowed", "reason", "overridable", "pin")
    path: str
    allowed: int
    reason: str
    overridable: bool
    pin: bool

    def __init__(self, path: str, allowed: int, reason: str, overridable: bool = True, pin: bool = False) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "allowed", allowed)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "overridable", overridable)
        object.__setattr__(self, "pin", pin)


# What renaming or removing an entry needs from its parent: a pinned path's parent keeps everything else.
RENAME_RIGHTS = (1 << 4) | (1 << 5) | (1 << 13)  # REMOVE_DIR | REMOVE_FILE | REFER


def pins_for(path: str) -> list[Limit]:
    """Pins for every ancestor of ``path`` but ``/``: a path protected by a read-only bind mount (itself a
    mount point: it cannot be renamed or removed) cannot be moved away with the directories that hold it."""
    out = []
    p = os.path.dirname(path)
    while p not in ("/", ""):
        out.append(Limit(p, 0, "pin", overridable=False, pin=True))
        p = os.path.dirname(p)
    return out


class Rules(Value):
    """The compiled rules (path -> rights), whether each path is a directory, and notes for the report."""

    __slots__ = ("rules", "kinds", "notes")
    _defaults = {"rules": dict, "kinds": dict, "notes": list}
    rules: dict[str, int]
    kinds: dict[str, bool]
    notes: list[str]

    def add(self, path: str, rights: int, is_dir: bool) -> None:
        if rights:
            self.rules[path] = self.rules.get(path, 0) | rights
            self.kinds[path] = is_dir


def _beneath(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or inside it (both absolute and normalised)."""
    return path == root or root == "/" or path.startswith(root + "/")


def _strictly_beneath(path: str, root: str) -> bool:
    return path != root and _beneath(path, root)


def expand(pattern: str, home: str, env: dict[str, str]) -> list[str]:
    """``~``, ``$VAR`` and globs → existing-or-not absolute paths (a glob yields only what exists)."""
    if pattern.startswith("$"):
        name, _, rest = pattern[1:].partition("/")
        base = env.get(name)
        if not base:
            return []
        if os.pathsep in base:  # a list of paths (KUBECONFIG): each one
            return [p for part in base.split(os.pathsep) if part for p in expand(part + ("/" + rest if rest else ""), home, env)]
        pattern = base + ("/" + rest if rest else "")
    if pattern == "~" or pattern.startswith("~/"):
        pattern = home + pattern[1:]
    if not os.path.isabs(pattern):
        return []
    if any(c in pattern for c in "*?["):
        return sorted(glob.glob(pattern))
    return [os.path.normpath(pattern)]


def with_resolved(paths: list[str]) -> list[str]:
    """Each path and, when it exists and differs, its fully resolved form (protect both the link and what it
    names)."""
    out: list[str] = []
    for p in paths:
        out.append(p)
        if not os.path.lexists(p):
            continue
        real = os.path.realpath(p)
        if real != p:
            out.append(real)
    return out


def mount_aliases(paths: list[str], mountinfo: str | None = None) -> dict[str, list[str]]:
    """For each path, the other places the same directory is mounted (bind mounts), from mountinfo."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
                mountinfo = f.read()
        except OSError:
            return {}
    mounts: list[tuple[str, str, str]] = []  # (device, root within the filesystem, mount point)
    for line in mountinfo.splitlines():
        parts = line.split(" ")
        if len(parts) < 5:
            continue
        unescape = lambda s: s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")  # noqa: E731
        mounts.append((parts[2], unescape(parts[3]), unescape(parts[4])))
    out: dict[str, list[str]] = {}
    for path in paths:
        owner = None
        for m in mounts:  # the last mount over the longest prefix is the one in effect
            if _beneath(path, m[2]) and (owner is None or len(m[2]) >= len(owner[2])):
                owner = m
        if owner is None:
            continue
        rel = path[len(owner[2]):] if owner[2] != "/" else path
        in_fs = os.path.normpath(owner[1].rstrip("/") + "/" + rel.lstrip("/"))
        aliases = []
        for dev, root, point in mounts:
            if dev != owner[0] or point == owner[2]:
                continue
            if _beneath(root, in_fs):  # the mount shows a part of the protected path
                aliases.append(point)
            elif _beneath(in_fs, root):  # the mount shows the protected path somewhere inside it
                tail = in_fs[len(root):] if root != "/" else in_fs
                aliases.append(os.path.normpath(point.rstrip("/") + "/" + tail.lstrip("/")))
        if aliases:
            out[path] = sorted(set(a for a in aliases if a != path))
    return out


def compile_rules(grants: list[Grant], limits: list[Limit]) -> Rules:
    """Landlock rules granting each grant, except what the limits take away.

    Landlock rights are a union over a path's ancestors, so a grant covering a limit is split: the grant's
    directory keeps only the rights every limit beneath it allows, and its entries are granted one by one,
    recursing along the paths that lead to a limit. A limit applies to a grant unless the grant lies inside it
    and both are overridable (the policy's explicit ``allow_*`` reaching into a default credential path).
    """
    out = Rules()
    existing = [lim for lim in limits if os.path.lexists(lim.path)]  # nothing to split towards otherwise
    for g in grants:
        _emit(g, g.path, g.rights, existing, out, depth=0)
    return out


_MAX_DEPTH = 64  # a limit deeper than this below a grant is not reached by splitting (the grant is then dropped)


def _emit(g: Grant, path: str, rights: int, limits: list[Limit], out: Rules, depth: int) -> None:
    limits = [lim for lim in limits if _beneath(lim.path, path) or _beneath(path, lim.path)]
    for lim in limits:
        if lim.pin:
            continue
        if _beneath(path, lim.path) and not (g.override and lim.overridable and _beneath(g.path, lim.path)):
            rights &= lim.allowed
    if not rights:
        return
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    if not stat.S_ISDIR(st.st_mode):
        out.add(path, rights & FILE_RIGHTS, False)
        return
    below = [
        lim for lim in limits
        if _strictly_beneath(lim.path, path)
        and (rights & RENAME_RIGHTS if lim.pin else rights & ~lim.allowed)
        and not (g.override and lim.overridable and _beneath(g.path, lim.path))
    ]
    if not below:
        out.add(path, rights, True)
        return
    common = rights
    for lim in below:
        common &= ~RENAME_RIGHTS if lim.pin else lim.allowed
    out.add(path, common, True)
    if depth >= _MAX_DEPTH:
        out.notes.append(f"{path}: too deep to split; only {'read' if common else 'no'} access granted")
        return
    # The entries of ``path`` that lead to a limit (its first component below ``path``), for O(1) lookups.
    prefix_len = 1 if path == "/" else len(path) + 1
    leads = {lim.path[prefix_len:].split("/", 1)[0] for lim in below}
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        out.notes.append(f"{path}: cannot be listed ({exc.strerror}); its entries get no rule")
        return
    for entry in entries:
        child = entry.path if path != "/" else "/" + entry.name
        if entry.name in leads:
            _emit(g, child, rights, limits, out, depth + 1)
            continue
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        out.add(child, rights if is_dir else rights & FILE_RIGHTS, is_dir)


def kind_rights(kind: str) -> int:
    return {"read": READ, "write": WRITE, "device": DEVICE}[kind]
