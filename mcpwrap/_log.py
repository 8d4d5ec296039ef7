"""Diagnostics for a person: one logger, ``mcpwrap``, written to stderr.

stdout of ``mcpwrap wrap`` is the protocol channel, so every diagnostic goes to stderr, one line each,
``mcpwrap: <message>``. Clients (Claude Code, Claude Desktop…) store a server's stderr in log files, so the
lines are plain text when stderr is not a terminal; on a terminal, warnings and errors are highlighted (unless
``NO_COLOR`` is set). The handler writes to whatever ``sys.stderr`` is at that moment (a test that captures
stderr sees the lines) and never raises: a closed stderr loses the message, not the wrapped session.

Library code calls :func:`warning` / :func:`error` / :func:`info`. The entry points call :func:`configure`;
a library used without them is configured on its first message, the same way. ``logging`` itself is imported
only then, so a wrapped server that starts and runs quietly does not pay for it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

__all__ = ["LOGGER_NAME", "PREFIX", "configure", "get_logger", "info", "warning", "error"]

LOGGER_NAME = "mcpwrap"
PREFIX = "mcpwrap: "
_STYLES = {"WARNING": "\x1b[33m", "ERROR": "\x1b[1;31m", "CRITICAL": "\x1b[1;31m"}  # yellow, bold red
_RESET = "\x1b[0m"

_logger: logging.Logger | None = None


def _styled() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def configure(level: int | None = None) -> logging.Logger:
    """Give the ``mcpwrap`` logger its stderr handler (once) and return it; ``level`` defaults to INFO."""
    global _logger
    import logging

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                line = self.format(record)
                stream = sys.stderr
                if stream is None:
                    return
                style = _STYLES.get(record.levelname) if _styled() else None
                stream.write(f"{style}{line}{_RESET}\n" if style else line + "\n")
                stream.flush()
            except (OSError, ValueError, AttributeError):  # stderr closed or gone: nothing else to tell
                pass

    logger = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_mcpwrap", False) for h in logger.handlers):
        handler = StderrHandler()
        handler._mcpwrap = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(PREFIX + "%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False  # one line per message, whatever an embedding program set up on the root
    logger.setLevel(logging.INFO if level is None else level)
    _logger = logger
    return logger


def get_logger() -> logging.Logger:
    return _logger if _logger is not None else configure()


def info(message: str, *args: Any) -> None:
    get_logger().info(message, *args)


def warning(message: str, *args: Any) -> None:
    get_logger().warning(message, *args)


def error(message: str, *args: Any) -> None:
    get_logger().error(message, *args)
