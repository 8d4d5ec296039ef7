"""mcpwrap — a security wrapper for local MCP servers.

The library can be used without the CLI::

    from mcpwrap import Relay, Session, build_chain, load_policy
"""

from __future__ import annotations

from typing import Any

from ._chain import Chain, ChainContext, Interceptor, Outcome
from ._config import Config
from ._errors import AuditError, ClientConfigError, CommandNotFound, ConfigError, McpwrapError, ProtocolError
from ._message import Action, Direction, Kind, Message, Notes, PendingRequest, Session, Verdict

__version__ = "0.1.0"

__all__ = [
    "Action",
    "AuditError",
    "Chain",
    "ChainContext",
    "ClientConfigError",
    "CommandNotFound",
    "Config",
    "ConfigError",
    "Direction",
    "Interceptor",
    "Kind",
    "McpwrapError",
    "Message",
    "Notes",
    "Outcome",
    "PendingRequest",
    "ProtocolError",
    "Relay",
    "Session",
    "Verdict",
    "build_chain",
    "load_policy",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The relay pulls in subprocess/threading, the composition root every interceptor: load them when asked.
    if name == "Relay":
        from ._relay.relay import Relay

        return Relay
    if name in ("build_chain", "load_policy"):
        from . import interceptors

        return getattr(interceptors, name)
    raise AttributeError(name)
