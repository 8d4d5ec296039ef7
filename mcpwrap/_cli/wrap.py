"""``mcpwrap wrap``: parse the command line and run one wrapped server (see :mod:`mcpwrap._runtime`).

Lean on purpose: no CLI framework is imported on this path (clients start a wrapped server per session).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._errors import ConfigError, McpwrapError
from .._log import error
from .._wrapargs import parse_wrap_args, wrap_help

if TYPE_CHECKING:
    from ..interceptors import InterceptorFactory

__all__ = ["main"]


def _err(text: str) -> None:
    error(text)


def main(args: list[str], *, extra: Iterable[InterceptorFactory] = ()) -> int:
    try:
        opts = parse_wrap_args(args)
        if opts.help:
            sys.stdout.write(wrap_help())
            return 0
        from .._runtime import run

        return run(opts, extra=extra)
    except ConfigError as exc:
        _err(f"invalid policy: {exc}")
        return 2
    except McpwrapError as exc:
        _err(str(exc))
        return exc.exit_code
