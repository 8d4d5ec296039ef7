"""Who wrote a session of the audit log, and whether that process still runs.

A ``session-start`` record carries ``wrapper`` (:func:`wrapper_identity`): the pid, the host, the kernel's
boot id and the process start time. Verification asks :func:`process_state` about every session that has no
``session-end`` record: if its writer is gone, the session was cut short (the writer was killed, or the newest
records were removed); if it still runs, the session is simply open. The boot id tells a pid from before a
reboot, the start time a pid the kernel has since given to another process. On another host nothing can be
told (``unknown``). Linux's ``/proc`` supplies boot id and start time; elsewhere only the pid is checked.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["wrapper_identity", "process_state"]

_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_START_TIME_FIELD = 19  # of /proc/<pid>/stat after the command name: starttime, in clock ticks since boot


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _proc_start(pid: int | str) -> str | None:
    """The start time of a process in clock ticks since boot (Linux), to tell a reused pid from the original."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return fields[_START_TIME_FIELD] if len(fields) > _START_TIME_FIELD else None


def _hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket on wrap's path


def wrapper_identity() -> dict:
    """What a ``session-start`` record says about the process writing the session."""
    ident: dict[str, Any] = {"pid": os.getpid(), "host": _hostname()}
    boot = _read_text(_BOOT_ID)
    if boot:
        ident["boot"] = boot
    started = _proc_start("self")
    if started:
        ident["started"] = started
    return ident


def process_state(ident: Any) -> str:
    """``running``, ``gone``, or ``unknown`` (another host, or too little recorded to tell)."""
    if not isinstance(ident, dict) or not isinstance(ident.get("pid"), int):
        return "unknown"
    if ident.get("host") != _hostname():
        return "unknown"
    boot = _read_text(_BOOT_ID)
    if boot and ident.get("boot") and ident["boot"] != boot:
        return "gone"  # recorded before the last reboot
    pid = ident["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return "unknown"
    if ident.get("started"):
        now = _proc_start(pid)
        if now is not None and now != ident["started"]:
            return "gone"  # the pid was reused by another process
    return "running"
