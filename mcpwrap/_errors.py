"""The exceptions mcpwrap raises, in one tree.

    McpwrapError                 anything mcpwrap reports to a person (CLI prints it, exit status 1/2)
    ├── ConfigError              a policy/config file that cannot be loaded (carries file, line, column)
    ├── CommandNotFound          the server command to wrap does not exist (exit 127)
    ├── AuditError               the audit log cannot be opened or written
    ├── UnsafeFileError          a file or directory of mcpwrap's that another user or a link could control
                                 (also a PermissionError, so every "cannot open" path reports it)
    ├── ProtocolError            a message that cannot be examined (unparsable, ambiguous, oversized)
    └── ClientConfigError        a client's configuration file (e.g. ~/.claude.json) cannot be read or written

Interceptors never raise these on purpose to block: they return a block verdict. An exception escaping an
interceptor is itself treated as a block (fail closed) and audited.
"""

from __future__ import annotations

import errno

__all__ = [
    "McpwrapError",
    "ConfigError",
    "CommandNotFound",
    "AuditError",
    "ProtocolError",
    "ClientConfigError",
    "UnsafeFileError",
]


class McpwrapError(Exception):
    """Base of every error mcpwrap reports to a person."""

    exit_code = 1


class ConfigError(McpwrapError):
    """A configuration file that cannot be used. ``path`` is the key path inside the document."""

    def __init__(
        self,
        message: str,
        *,
        path: tuple = (),
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        key = ".".join(str(p) for p in self.path)
        return f"{where}{key + ': ' if key else ''}{self.message}"


class CommandNotFound(McpwrapError):
    exit_code = 127


class AuditError(McpwrapError):
    pass


class ProtocolError(McpwrapError):
    """A message mcpwrap refuses to examine. ``code`` is the JSON-RPC error code for the sender; ``rule`` names
    the check that refused it in the audit record (None: the message could not be decoded or framed)."""

    def __init__(self, message: str, code: int, *, rule: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.rule = rule


class ClientConfigError(McpwrapError):
    pass


class UnsafeFileError(McpwrapError, PermissionError):
    """A file or directory mcpwrap will not use: a symbolic link, not a regular file, owned by another user, or
    writable by others. ``str()`` is one sentence naming the path, what is wrong and the fix."""

    def __init__(self, message: str, path: str) -> None:
        PermissionError.__init__(self, errno.EPERM, message, path)
        self.message = message

    def __str__(self) -> str:
        return self.message
