"""The few Linux system calls the sandbox needs, through ctypes (no compiled extension, nothing to build).

Every wrapper raises ``OSError`` with the kernel's errno, like the functions of :mod:`os`. Python's own
:mod:`os` covers ``unshare`` (3.12+ only, so it is here too), but not ``prctl``, ``mount``, ``capset`` or the
Landlock and seccomp calls. Syscall numbers that differ between architectures are looked up per machine;
on an architecture not listed the callers report the feature as unavailable instead of guessing.
"""

from __future__ import annotations

import ctypes
import os

__all__ = [
    "libc",
    "syscall",
    "prctl",
    "unshare",
    "mount",
    "MACHINE",
    "SYSCALLS",
    "AUDIT_ARCH",
]

MACHINE = os.uname().machine if hasattr(os, "uname") else ""

# Numbers that differ between the two architectures mcpwrap sandboxes. Landlock's (444-446) are the same
# everywhere (they were added after the syscall tables were unified).
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"capset": 126, "socket": 41, "socketpair": 53, "keyctl": 250, "add_key": 248, "request_key": 249, "io_uring_setup": 425},
    "aarch64": {"capset": 91, "socket": 198, "socketpair": 199, "keyctl": 219, "add_key": 217, "request_key": 218, "io_uring_setup": 425},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

_libc: ctypes.CDLL | None = None


def libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # The C library the interpreter itself is linked with (no ctypes.util.find_library: it may run ldconfig).
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        _libc.unshare.argtypes = [ctypes.c_int]
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def syscall(number: int, *args: object, what: str = "syscall") -> int:
    return _check(libc().syscall(ctypes.c_long(number), *args), what)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(libc().prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(libc().unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: None if s is None else os.fsencode(s)  # noqa: E731
    _check(libc().mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")
