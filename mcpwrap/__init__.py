"""mcpwrap — a security wrapper for local MCP servers.

The library can be used without the CLI::

    from mcpwrap import Relay, Session, build_chain, load_policy

Every name is loaded when first asked for (PEP 562): ``mcpwrap wrap`` imports this package before it
spawns the server, and the server should not wait for the chain, the configuration loader or the relay's
threads to be imported (they load while it boots).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._chain import Chain, ChainContext, Interceptor, Outcome
    from ._config import Config
    from ._errors import AuditError, ClientConfigError, CommandNotFound, ConfigError, McpwrapError, ProtocolError
    from ._message import Action, Direction, Kind, Message, Notes, PendingRequest, Session, Verdict
    from ._relay.relay import Relay
    from .interceptors import build_chain, load_policy

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

# name -> the module that defines it (relative to this package)
_LAZY = {
    **dict.fromkeys(("Chain", "ChainContext", "Interceptor", "Outcome"), "._chain"),
    "Config": "._config",
    **dict.fromkeys(("AuditError", "ClientConfigError", "CommandNotFound", "ConfigError", "McpwrapError", "ProtocolError"), "._errors"),
    **dict.fromkeys(("Action", "Direction", "Kind", "Message", "Notes", "PendingRequest", "Session", "Verdict"), "._message"),
    "Relay": "._relay.relay",
    **dict.fromkeys(("build_chain", "load_policy"), ".interceptors"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
