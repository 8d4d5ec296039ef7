"""Unprivileged namespaces for the wrapped server: user, PID, mount and (when the network is limited) network.

An unprivileged process may create a user namespace, and inside it owns every other kind it creates with it.
mcpwrap uses that for three things no file rule can express:

- **PID namespace + a fresh /proc**: the server sees only its own process tree. mcpwrap and the client above
  it have no PID there, so their ``/proc/<pid>/fd`` (the client's pipes), ``environ`` (keys), ``cmdline`` and
  ``mem`` cannot be named, and they cannot be signalled. When the namespace's first process exits, the kernel
  kills every process left in it: a server cannot leave daemons behind.
- **network namespace** (``network: deny`` or ``hosts``): only a loopback interface. With ``hosts`` the only
  way out is mcpwrap's filtering proxy, whose listening socket is created inside the namespace and accepted
  from outside it.
- **user namespace**: what makes the others possible without privileges. The server keeps its own uid and
  gid (mapped 1:1), so file ownership looks as usual; supplementary groups still apply but show as
  ``nogroup``. Every capability is dropped before the server is executed, so even a server started by root
  holds none in its namespace (it could otherwise unmount /proc, or rewrite the namespace's network).

Each function runs in the forked child (see :mod:`mcpwrap._sandbox.launch`), before the server is executed.
"""

from __future__ import annotations

import ctypes
import os

from . import _linux

__all__ = [
    "write_id_maps",
    "loopback_up",
    "mount_proc",
    "bind_readonly",
    "drop_capabilities",
    "clear_capabilities",
    "userns_available",
]

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_CAP_LAST_CAP_FILE = "/proc/sys/kernel/cap_last_cap"
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def userns_available() -> tuple[bool, str]:
    """Whether this process may create a user namespace (with PID/mount/net inside), and why not if not.

    Tried for real in a short-lived child: sysctls alone do not tell (AppArmor's
    ``apparmor_restrict_unprivileged_userns``, seccomp in containers, ``max_user_namespaces = 0``).
    """
    if not hasattr(os, "fork"):
        return False, "not Linux"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            os.close(r)
            _linux.unshare(_linux.CLONE_NEWUSER | _linux.CLONE_NEWNS | _linux.CLONE_NEWPID | _linux.CLONE_NEWNET)
        except OSError as exc:
            os.write(w, (exc.strerror or str(exc)).encode()[:200])
            code = 1
        os._exit(code)
    os.close(w)
    try:
        reason = os.read(r, 256).decode(errors="replace")
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    return ok, "" if ok else f"cannot create a user namespace: {reason or 'refused'}"


def write_id_maps(uid: int, gid: int) -> None:
    """Map the caller's uid and gid to themselves in the user namespace it has just entered.

    An unprivileged process may map exactly its own ids, and must give up ``setgroups`` first (else it could
    drop a group that denies it access). A non-dumpable process cannot open its own map files, so dumpable is
    raised for the moment of writing and restored.
    """
    _linux.prctl(_linux.PR_SET_DUMPABLE, 1)
    try:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    finally:
        _linux.prctl(_linux.PR_SET_DUMPABLE, 0)


def loopback_up() -> None:
    """Bring ``lo`` up in a new network namespace (it starts down: even 127.0.0.1 would be unreachable)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def mount_proc() -> None:
    """Mount a /proc that shows the caller's PID namespace only (over the inherited one, in the new mount
    namespace: the host's mounts are untouched — a mount namespace owned by a new user namespace receives the
    host's shared mounts as slaves, so nothing propagates back)."""
    _linux.mount("proc", "/proc", "proc", _linux.MS_NOSUID | _linux.MS_NODEV | _linux.MS_NOEXEC)


_ST_TO_MS = ((2, 2), (4, 4), (8, 8), (1024, 1024), (2048, 2048), (4096, 1 << 21))  # nosuid nodev noexec noatime nodiratime relatime


def bind_readonly(path: str) -> None:
    """Make ``path`` read-only in this mount namespace: bind it onto itself, then remount that bind read-only.
    The mount point cannot be renamed, removed or replaced (EBUSY), and writes beneath it fail (EROFS). The
    flags a less privileged namespace may not clear (nosuid, nodev, …, locked from the original mount) are
    kept."""
    _linux.mount(path, path, None, _linux.MS_BIND | _linux.MS_REC)
    flags = _linux.MS_BIND | _linux.MS_REMOUNT | _linux.MS_RDONLY
    st = os.statvfs(path)
    for st_flag, ms_flag in _ST_TO_MS:
        if st.f_flag & st_flag:
            flags |= ms_flag
    _linux.mount(None, path, None, flags)


def drop_capabilities() -> None:
    """Empty the bounding and ambient sets: nothing executed later can regain a capability (not even as uid 0,
    whose execve would otherwise refill the permitted set from the bounding set)."""
    try:
        with open(_CAP_LAST_CAP_FILE) as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        try:
            _linux.prctl(_linux.PR_CAPBSET_DROP, cap)
        except OSError:
            pass
    try:
        _linux.prctl(_linux.PR_CAP_AMBIENT, _linux.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def clear_capabilities() -> None:
    """Give up every capability of the calling thread (effective, permitted, inheritable)."""
    nr = _linux.SYSCALLS.get(_linux.MACHINE, {}).get("capset")
    if nr is None:
        return
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _linux.syscall(nr, ctypes.byref(header), ctypes.byref(data), what="capset")
