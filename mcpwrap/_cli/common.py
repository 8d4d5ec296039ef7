"""What every command group shares: how a user error ends a command (printing is :mod:`mcpwrap._cli.output`).

A user error is one line on stderr through the ``mcpwrap`` logger (:mod:`mcpwrap._log`: ``mcpwrap: …``,
plain text unless stderr is a terminal) and an exit status; never a traceback.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from .._log import error

__all__ = ["fail"]


def fail(text: str, code: int = 1) -> NoReturn:
    """Report ``text`` on stderr and end the command with ``code``."""
    error(text)
    raise typer.Exit(code)
