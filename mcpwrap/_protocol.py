"""MCP and JSON-RPC facts mcpwrap relies on, in one place (see the specification's ``schema.ts``).

Only constants: the error codes mcpwrap answers with, the protocol revisions whose behaviour differs, the
``_meta`` keys of stateless (2026-07-28) requests, and the one structural limit every stage shares.
"""

from __future__ import annotations

__all__ = [
    "PARSE_ERROR",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "INVALID_PARAMS",
    "INTERNAL_ERROR",
    "SERVER_UNAVAILABLE",
    "BLOCKED",
    "MODERN_PROTOCOL",
    "FORM_ELICITATION_PROTOCOL",
    "META_PROTOCOL_VERSION",
    "META_CLIENT_CAPABILITIES",
    "META_CLIENT_INFO",
    "MAX_DEPTH",
]

# JSON-RPC 2.0
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# Implementation-defined codes, outside the −32020…−32099 range the MCP specification reserves for itself.
SERVER_UNAVAILABLE = -32000  # the wrapped server exited or mcpwrap is shutting down
BLOCKED = -32001  # an interceptor refused the message (see data.mcpwrap)

# Protocol revisions (dates compare as strings)
MODERN_PROTOCOL = "2026-07-28"  # first stateless revision: no initialize, every result carries resultType
FORM_ELICITATION_PROTOCOL = "2025-11-25"  # elicitation/create carries mode: "form"

# _meta keys every stateless request carries
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"

# Nesting of arrays and objects in one message (the envelope object is level 1). The decoder refuses deeper
# messages, and every walker (scanners, the redactor, the policy's readings, the audit writer) reaches exactly
# this deep: what is accepted is what is examined. Real MCP traffic nests a few dozen levels at most; 128 also
# stays well inside the limits of what examines a message after decoding (orjson writes audit records up to
# 254 levels; jsonschema and the audit redactor recurse in Python).
MAX_DEPTH = 128
