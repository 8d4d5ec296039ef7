"""mcpwrap — a security wrapper for local MCP servers.

The library can be used without the CLI::

    from mcpwrap import Relay, Session, Chain, load_config
"""

from __future__ import annotations

from ._chain import Chain, Interceptor, Outcome
from ._config import Config, load_config
from ._errors import AuditError, ClientConfigError, CommandNotFound, ConfigError, McpwrapError, ProtocolError
from ._message import Action, Direction, Kind, Message, PendingRequest, Session, Verdict

__version__ = "0.1.0"

__all__ = [
    "Action",
    "AuditError",
    "Chain",
    "ClientConfigError",
    "CommandNotFound",
    "Config",
    "ConfigError",
    "Direction",
    "Interceptor",
    "Kind",
    "McpwrapError",
    "Message",
    "Outcome",
    "PendingRequest",
    "ProtocolError",
    "Session",
    "Verdict",
    "load_config",
    "__version__",
]


def __getattr__(name: str):  # the relay pulls in subprocess/threading; load it only when asked
    if name == "Relay":
        from ._relay.relay import Relay

        return Relay
    raise AttributeError(name)
