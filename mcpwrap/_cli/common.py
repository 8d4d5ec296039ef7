"""What every command group shares: how a user error ends a command, and the console tables print to.

A user error is one line on stderr through the ``mcpwrap`` logger (:mod:`mcpwrap._log`: ``mcpwrap: …``,
plain text unless stderr is a terminal) and an exit status; never a traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from .._log import error

__all__ = ["fail", "console"]


def fail(text: str, code: int = 1) -> NoReturn:
    """Report ``text`` on stderr and end the command with ``code``."""
    error(text)
    raise typer.Exit(code)


def console() -> Any:
    """A rich console for tables and panels (no syntax highlighting of numbers and paths, no soft wrapping)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)
