"""The files of one audit log: the live file and its rotated predecessors.

When the live file has reached ``audit.rotate_size``, the writer that notices (holding the log's lock) renames
it to :func:`rotated_name` — ``<log>.<UTC timestamp>`` with microseconds, and ``-1``, ``-2``… should two
rotations share a timestamp — and starts the new file with a ``log-rotated`` record that continues the chain
(same ``n`` sequence, ``prev`` = last ``h`` of the old file). Other writers see the inode change under the lock
and reopen. The names sort chronologically, so :func:`log_files` lists the whole chain oldest first, and
verifying the rotated files and the live file together checks one unbroken chain.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["rotated_name", "rotated_files", "log_files", "expand"]

_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_ROTATED_SUFFIX = re.compile(r"\.\d{8}T\d{6}\.\d{6}Z(?:-\d+)?$")  # what rotated_name appends


def rotated_name(path: str | os.PathLike) -> str:
    """A free name for the rotated file of the log at ``path`` (checked under the log's lock by the caller)."""
    base = os.fspath(path)
    stamp = datetime.now(timezone.utc).strftime(_STAMP_FORMAT)
    target = f"{base}.{stamp}"
    i = 0
    while os.path.exists(target):
        i += 1
        target = f"{base}.{stamp}-{i}"
    return target


def rotated_files(path: str | os.PathLike) -> list[Path]:
    """The rotated predecessors of a log, oldest first (their names sort chronologically)."""
    p = Path(path)
    try:
        names = os.listdir(p.parent if str(p.parent) else ".")
    except OSError:
        return []
    prefix = p.name + "."
    return sorted(p.parent / n for n in names if n.startswith(prefix) and _ROTATED_SUFFIX.search(n[len(p.name) :]))


def log_files(path: str | os.PathLike) -> list[Path]:
    """A log with its rotated predecessors, oldest first: the whole chain."""
    p = Path(path)
    files = rotated_files(p)
    if p.exists() or not files:
        files.append(p)
    return files


def expand(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Each named log with its rotated predecessors, oldest first (each file once)."""
    out: list[Path] = []
    for p in paths:
        for f in log_files(p):
            if f not in out:
                out.append(f)
    return out
