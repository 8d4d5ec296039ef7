"""A small seccomp filter for what neither Landlock nor namespaces can police.

Landlock (up to ABI 7) does not govern ``connect()`` to a *pathname* unix socket, and a network namespace
does not either (the socket is a file, reached through the filesystem). Those sockets are the way to the
person's agents and daemons: ``ssh-agent`` and ``gpg-agent`` (sign with their keys), the D-Bus session bus
(the Secret Service keyring), ``docker.sock`` (root), tmux/screen servers and X11 (keystrokes into the
person's terminals). The filter therefore refuses ``socket(AF_UNIX, …)`` — ``socketpair()``, which Node and
Python use for their own child processes' pipes, stays allowed, as do descriptors inherited or received.
It also refuses the kernel keyring calls (``keyctl``, ``add_key``, ``request_key``: the session keyring is
inherited and may hold credentials) and ``io_uring_setup`` (an io_uring can open sockets and connect without
passing through the syscall filter; libuv and others fall back to ordinary calls when it is refused).

The filter is a few BPF instructions: check the architecture (a foreign one — e.g. 32-bit calls on x86_64 —
is refused outright, since its syscall numbers differ), refuse x32 calls, compare the syscall number and, for
``socket``, its first argument. Refusals return an errno (``EACCES``, or ``ENOSYS`` for io_uring so that
callers take their fallback), never kill: a server that probes gets an ordinary error it can report.
"""

from __future__ import annotations

import ctypes
import errno
import struct

from . import _linux

__all__ = ["available", "build_filter", "install", "AF_UNIX"]

AF_UNIX = 1
AF_VSOCK = 40
IPPROTO_MPTCP = 262
_SOCK_DGRAM = 2
_SOCK_TYPE_MASK = 0xF  # the type without SOCK_NONBLOCK / SOCK_CLOEXEC

# BPF opcodes (linux/bpf_common.h, linux/seccomp.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_ALU_AND_K = 0x54
_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_X32_SYSCALL_BIT = 0x40000000
# offsets in struct seccomp_data
_NR = 0
_ARCH = 4
_ARG0 = 16  # args[0], low 32 bits on little-endian
_ARG1 = 24
_ARG2 = 32


def available() -> bool:
    return _linux.MACHINE in _linux.SYSCALLS


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_filter(*, deny_unix_sockets: bool = True, limit_network: bool = False) -> bytes:
    """The BPF program (raw ``struct sock_filter`` array) for this machine.

    ``deny_unix_sockets`` also refuses ``socketpair(AF_UNIX, SOCK_DGRAM)``: a datagram socket can ``sendto`` any
    pathname socket outside (journald, ``/dev/log``). ``limit_network`` (``network: deny`` or ``hosts``) refuses the
    families and protocols the network limits do not see: ``AF_VSOCK`` (the hypervisor) and MPTCP, which
    Landlock's TCP rules do not cover."""
    nrs = _linux.SYSCALLS[_linux.MACHINE]
    eacces = _SECCOMP_RET_ERRNO | errno.EACCES
    prog = [
        _ins(_LD_W_ABS, _ARCH),
        _ins(_JEQ_K, _linux.AUDIT_ARCH[_linux.MACHINE], jt=1, jf=0),
        _ins(_RET_K, eacces),  # foreign architecture
        _ins(_LD_W_ABS, _NR),
    ]
    if _linux.MACHINE == "x86_64":
        prog += [_ins(_JGE_K, _X32_SYSCALL_BIT, jt=0, jf=1), _ins(_RET_K, eacces)]
    for name in ("keyctl", "add_key", "request_key"):
        prog += [_ins(_JEQ_K, nrs[name], jt=0, jf=1), _ins(_RET_K, eacces)]
    prog += [_ins(_JEQ_K, nrs["io_uring_setup"], jt=0, jf=1), _ins(_RET_K, _SECCOMP_RET_ERRNO | errno.ENOSYS)]
    # Each check below loads arguments; every path ends in a return, so the syscall number need not be reloaded.
    if deny_unix_sockets:
        prog += [
            _ins(_JEQ_K, nrs["socketpair"], jt=0, jf=7),  # not socketpair: on to the socket checks
            _ins(_LD_W_ABS, _ARG0),
            _ins(_JEQ_K, AF_UNIX, jt=0, jf=4),  # another family: allowed
            _ins(_LD_W_ABS, _ARG1),
            _ins(_ALU_AND_K, _SOCK_TYPE_MASK),
            _ins(_JEQ_K, _SOCK_DGRAM, jt=0, jf=1),
            _ins(_RET_K, eacces),
            _ins(_RET_K, _SECCOMP_RET_ALLOW),
        ]
    socket_checks = []
    if deny_unix_sockets:
        socket_checks += [_ins(_JEQ_K, AF_UNIX, jt=0, jf=1), _ins(_RET_K, eacces)]
    if limit_network:
        socket_checks += [_ins(_JEQ_K, AF_VSOCK, jt=0, jf=1), _ins(_RET_K, eacces)]
        socket_checks += [_ins(_LD_W_ABS, _ARG2), _ins(_JEQ_K, IPPROTO_MPTCP, jt=0, jf=1), _ins(_RET_K, eacces)]
    if socket_checks:
        prog += [_ins(_JEQ_K, nrs["socket"], jt=0, jf=len(socket_checks) + 1), _ins(_LD_W_ABS, _ARG0), *socket_checks]
    prog.append(_ins(_RET_K, _SECCOMP_RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install ``program`` on the calling thread (inherited by children and across exec). Needs no_new_privs."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _linux.prctl(_linux.PR_SET_SECCOMP, _linux.SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
