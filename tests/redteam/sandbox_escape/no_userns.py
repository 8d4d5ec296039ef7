"""Run a command where unshare(2) is refused (EPERM), as on a system whose user namespaces are disabled
(sysctl, AppArmor's restriction, a container's seccomp) — without touching the machine's settings.

    no_userns.py COMMAND ARGS...
"""

import ctypes
import os
import struct
import sys

_NR_UNSHARE = {"x86_64": 272, "aarch64": 97}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}


def main() -> None:
    machine = os.uname().machine
    ins = lambda code, k, jt=0, jf=0: struct.pack("HBBI", code, jt, jf, k)  # noqa: E731
    prog = b"".join([
        ins(0x20, 4), ins(0x15, _AUDIT_ARCH[machine], 1, 0), ins(0x06, 0x7FFF0000),
        ins(0x20, 0), ins(0x15, _NR_UNSHARE[machine], 0, 1), ins(0x06, 0x00050000 | 1),  # EPERM
        ins(0x06, 0x7FFF0000),
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    fprog = Fprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ul = ctypes.c_ulong
    if libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) != 0 or libc.prctl(22, ul(2), ul(ctypes.addressof(fprog)), ul(0), ul(0)) != 0:
        sys.exit(f"no_userns: {os.strerror(ctypes.get_errno())}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
