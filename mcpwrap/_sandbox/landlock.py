"""Landlock: the kernel's unprivileged, stackable access control, applied to the wrapped server.

Landlock is an allow-list. A process builds a *ruleset* that names the kinds of access it wants the kernel
to police ("handled" rights), adds rules granting some of those rights beneath some directories (or on some
files, or to some TCP ports), and restricts itself: from then on, and for every program it executes, a
handled access is allowed only where a rule grants it. Rules are attached to inodes when they are added
(a path is resolved once, through ``O_PATH``), and a rule on a directory covers everything beneath it, so
"all of X except Y" cannot be said with one rule: the profile (:mod:`mcpwrap._sandbox.profile`) grants the
siblings of Y instead. The rights known to the running kernel grow with its ABI version:

    ABI 1 (5.13)  files: execute, read, write, read dir, remove, make (char, dir, reg, sock, fifo, block, sym);
                  a sandboxed process cannot ptrace (or open /proc/<pid>/fd|mem|environ of) a process outside
                  its domain, nor mount
    ABI 2 (5.19)  refer (link or rename a file into another directory)
    ABI 3 (6.2)   truncate
    ABI 4 (6.7)   TCP bind and connect, by port
    ABI 5 (6.10)  ioctl on device files
    ABI 6 (6.12)  scopes: signals and abstract unix sockets only within the domain
    ABI 7 (6.15)  denial logging to the kernel's audit subsystem (root only; not used here)

Rights a kernel does not know are dropped from the ruleset and the caller says so (see ``missing`` in
:class:`mcpwrap._sandbox.plan.SandboxReport`). Nothing here allocates after :meth:`Ruleset.restrict` except
the call itself, so it is safe in a freshly forked child.
"""

from __future__ import annotations

import ctypes
import os
import stat

from . import _linux

__all__ = [
    "abi_version",
    "Ruleset",
    "FS",
    "NET_BIND_TCP",
    "NET_CONNECT_TCP",
    "SCOPE_ABSTRACT_UNIX_SOCKET",
    "SCOPE_SIGNAL",
    "fs_rights",
    "FILE_RIGHTS",
    "READ",
    "WRITE",
    "DEVICE",
]


class FS:
    EXECUTE = 1 << 0
    WRITE_FILE = 1 << 1
    READ_FILE = 1 << 2
    READ_DIR = 1 << 3
    REMOVE_DIR = 1 << 4
    REMOVE_FILE = 1 << 5
    MAKE_CHAR = 1 << 6
    MAKE_DIR = 1 << 7
    MAKE_REG = 1 << 8
    MAKE_SOCK = 1 << 9
    MAKE_FIFO = 1 << 10
    MAKE_BLOCK = 1 << 11
    MAKE_SYM = 1 << 12
    REFER = 1 << 13  # ABI 2
    TRUNCATE = 1 << 14  # ABI 3
    IOCTL_DEV = 1 << 15  # ABI 5


NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2

# Rights that mean something on a file (not a directory); a rule on a file may grant only these.
FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV

# The profile's three kinds of access.
READ = FS.EXECUTE | FS.READ_FILE | FS.READ_DIR
WRITE = (
    READ
    | FS.WRITE_FILE
    | FS.REMOVE_DIR
    | FS.REMOVE_FILE
    | FS.MAKE_DIR
    | FS.MAKE_REG
    | FS.MAKE_SOCK
    | FS.MAKE_FIFO
    | FS.MAKE_SYM
    | FS.REFER
    | FS.TRUNCATE
)
DEVICE = FS.READ_FILE | FS.WRITE_FILE | FS.IOCTL_DEV  # the few character devices every program opens


def fs_rights(abi: int) -> int:
    """Every filesystem right the kernel of ABI ``abi`` can police."""
    if abi < 1:
        return 0
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS.REFER
    if abi >= 3:
        rights |= FS.TRUNCATE
    if abi >= 5:
        rights |= FS.IOCTL_DEV
    return rights


_abi: int | None = None


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is absent, disabled, or not Linux."""
    global _abi
    if _abi is None:
        try:
            _abi = _linux.syscall(
                _linux.SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION),
                what="landlock_create_ruleset",
            )
        except (OSError, AttributeError):  # ENOSYS, EOPNOTSUPP (built but disabled), or no libc syscall()
            _abi = 0
    return _abi


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 8 + 4 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


class Ruleset:
    """An open Landlock ruleset (a file descriptor) and what it handles.

    ``handled_fs``/``handled_net``/``scoped`` are masked to what the kernel knows. The descriptor is
    close-on-exec; it may be inherited through ``fork`` and applied in the child with :meth:`restrict`.
    """

    __slots__ = ("fd", "abi", "handled_fs", "handled_net", "scoped", "rules")

    def __init__(self, fd: int, abi: int, handled_fs: int, handled_net: int, scoped: int) -> None:
        self.fd, self.abi, self.handled_fs, self.handled_net, self.scoped = fd, abi, handled_fs, handled_net, scoped
        self.rules = 0

    @classmethod
    def create(cls, handled_fs: int, handled_net: int = 0, scoped: int = 0, abi: int | None = None) -> Ruleset:
        abi = abi_version() if abi is None else abi
        if abi < 1:
            raise OSError(38, "Landlock is not available")
        handled_fs &= fs_rights(abi)
        handled_net = handled_net if abi >= 4 else 0
        scoped = scoped if abi >= 6 else 0
        attr = _RulesetAttr(handled_fs, handled_net, scoped)
        # The struct grew with the ABI: older kernels reject a size they do not know (E2BIG on non-zero tail).
        size = 24 if abi >= 6 else 16 if abi >= 4 else 8
        fd = _linux.syscall(
            _linux.SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0),
            what="landlock_create_ruleset",
        )
        return cls(fd, abi, handled_fs, handled_net, scoped)

    def allow_path(self, path: str, rights: int, *, follow: bool = True, is_dir: bool | None = None) -> int:
        """Grant ``rights`` beneath ``path`` (on ``path`` alone for a file). Returns the rights granted (0 when the
        path does not exist). Rights the ruleset does not handle are dropped (the kernel would refuse them)."""
        flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
        try:
            fd = os.open(path, flags)
        except OSError:
            return 0
        try:
            return self.allow_fd(fd, rights, is_dir=is_dir)
        finally:
            os.close(fd)

    def allow_fd(self, fd: int, rights: int, *, is_dir: bool | None = None) -> int:
        """Grant ``rights`` beneath the file ``fd`` is open on. ``is_dir``, when the caller knows it, saves a stat
        (the caller then guarantees ``fd`` is no symbolic link)."""
        if is_dir is None:
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                return 0  # a symbolic link's own inode: access through it is decided where it points
            is_dir = stat.S_ISDIR(mode)
        if not is_dir:
            rights &= FILE_RIGHTS
        rights &= self.handled_fs
        if not rights:
            return 0
        attr = _PathBeneathAttr(rights, fd)
        _linux.syscall(
            _linux.SYS_LANDLOCK_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(attr),
            ctypes.c_uint32(0), what="landlock_add_rule",
        )
        self.rules += 1
        return rights

    def allow_port(self, port: int, rights: int) -> None:
        rights &= self.handled_net
        if not rights:
            return
        attr = _NetPortAttr(rights, port)
        _linux.syscall(
            _linux.SYS_LANDLOCK_ADD_RULE, ctypes.c_int(self.fd), ctypes.c_int(_RULE_NET_PORT), ctypes.byref(attr),
            ctypes.c_uint32(0), what="landlock_add_rule",
        )
        self.rules += 1

    def restrict(self) -> None:
        """Apply to the calling thread (and what it executes). Needs no_new_privs (or CAP_SYS_ADMIN)."""
        _linux.syscall(_linux.SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(self.fd), ctypes.c_uint32(0), what="landlock_restrict_self")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
