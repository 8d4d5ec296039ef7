"""Run a function in a forked child (so that a Landlock domain or a seccomp filter stays there) and return
what it returned, or the OSError it raised, through a pipe."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any


def in_child(fn: Callable[[], Any]) -> Any:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            result: Any = ("ok", fn())
        except OSError as exc:
            result = ("oserror", exc.errno)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = ("error", repr(exc))
        with os.fdopen(w, "wb") as f:
            pickle.dump(result, f)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"the child failed: {value}")
    return value if kind == "ok" else OSError(value, os.strerror(value))
