"""The protocol gate: message forms no MCP peer sends, refused before any interceptor runs.

Interceptors decide by method name, by request form and by parameter names. A lenient peer may act on forms
that MCP does not have, and each such form is a second spelling the interceptors would not recognise:

- a method name that is not an MCP method but reads as one — ``TOOLS/CALL``, ``tools/call `` , a full-width or
  look-alike letter, an invisible character inside (:func:`mcp_method_like`);
- an MCP request method sent without an id (a notification: no tool rule, no approval, no hold would apply
  to it, and a server may still run it) or an MCP notification method sent with an id;
- ``params`` that is not an object (positional ``["exec_command", {…}]``, or ``null``): MCP parameters are
  always named; and the fields that say what a request acts on in any other type than MCP's — a tool or
  prompt ``name`` or a resource ``uri`` that is not a string (``["exec"]`` is ``"exec"`` to JavaScript's
  ``handlers[name]``, and no rule about the name would apply), ``arguments`` that are not an object;
- a response whose ``result`` is not an object or whose ``error`` is not ``{code: integer, message: string}``;
- from the server: a request whose id carries mcpwrap's own prefix (:data:`OWN_ID_PREFIX`; the client's answer
  to it would be taken for an answer to mcpwrap), or a ``notifications/cancelled`` naming such an id.

Methods that fold to no MCP method (vendor extensions) pass, and the policy decides about them. The method
table is the union of the MCP schema revisions 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28:
every notification method begins with ``notifications/`` and no request method does.

A refusal is a :class:`GateRefusal` (a :class:`~mcpwrap._errors.ProtocolError` with code -32600 and a rule);
the relay answers the sender where there is an id to answer, and audits it either way.
"""

from __future__ import annotations

from typing import Any

from .._errors import ProtocolError
from .._message import Direction, Session
from .._protocol import INVALID_REQUEST, METHOD_NOT_FOUND
from .._text import clean_text, skeleton, stands_in_for

__all__ = [
    "MCP_REQUEST_METHODS",
    "MCP_NOTIFICATION_METHODS",
    "MCP_METHODS",
    "OWN_ID_PREFIX",
    "GateRefusal",
    "is_own_id",
    "fold_method",
    "mcp_method_like",
    "check",
]

# Every request method of the MCP schema, 2024-11-05 … 2026-07-28.
MCP_REQUEST_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "subscriptions/listen",
        "tasks/get",
        "tasks/result",
        "tasks/list",
        "tasks/cancel",
        # server → client
        "sampling/createMessage",
        "elicitation/create",
        "roots/list",
    }
)
# Every notification method of the MCP schema, 2024-11-05 … 2026-07-28.
MCP_NOTIFICATION_METHODS = frozenset(
    {
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "notifications/message",
        "notifications/resources/updated",
        "notifications/resources/list_changed",
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/roots/list_changed",
        "notifications/elicitation/complete",
        "notifications/tasks/status",
        "notifications/subscriptions/acknowledged",
    }
)
MCP_METHODS = MCP_REQUEST_METHODS | MCP_NOTIFICATION_METHODS

# Ids of the requests mcpwrap sends itself begin with this (the rest is random: see Relay.next_own_id).
OWN_ID_PREFIX = "mcpwrap-"

MAX_METHOD_CHARS = 256  # longer method names cannot fold to an MCP method once whitespace is gone; not folded


# What a request acts on, by method: (field, the JSON types MCP gives it, required).
_STR: tuple[type, ...] = (str,)
_OBJ: tuple[type, ...] = (dict,)
_TYPE_NAMES: dict[tuple[type, ...], str] = {_STR: "a string", _OBJ: "an object"}
_FIELD_TYPES: dict[str, tuple[tuple[str, tuple[type, ...], bool], ...]] = {
    "tools/call": (("name", _STR, True), ("arguments", _OBJ, False)),
    "prompts/get": (("name", _STR, True), ("arguments", _OBJ, False)),
    "resources/read": (("uri", _STR, True),),
    "resources/subscribe": (("uri", _STR, True),),
    "resources/unsubscribe": (("uri", _STR, True),),
}


class GateRefusal(ProtocolError):
    """A message form MCP does not have; ``rule`` names which."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message, INVALID_REQUEST, rule=rule)


# Server→client requests and the client capability each needs (MCP: a server must not send them otherwise).
CAPABILITY_OF_REQUEST = {"elicitation/create": "elicitation", "sampling/createMessage": "sampling", "roots/list": "roots"}


def check_capability(envelope: dict, direction: Direction, session: Session) -> None:
    """Refuse a server request for a capability the client did not declare (once the client has said what it
    supports): no client would answer it, and a request the client cannot have asked for — an elicitation
    form posing as mcpwrap's own approval form, to a client that has no forms of its own — only misleads."""
    if direction is not Direction.SERVER_TO_CLIENT or "id" not in envelope:
        return
    capability = CAPABILITY_OF_REQUEST.get(envelope.get("method"))  # type: ignore[arg-type]
    if capability is None or session.protocol_version is None or session.client_supports(capability):
        return
    error = ProtocolError(
        f"the client did not declare the {capability!r} capability; a server may not send {envelope.get('method')!r}",
        METHOD_NOT_FOUND,
        rule="protocol.capability",
    )
    raise error


def fold_method(name: str) -> str:
    """``name`` as a reader takes it: the name's :func:`~mcpwrap._text.skeleton` (NFKC; invisible and control
    characters, case, look-alike letters and combining marks folded away) with all whitespace removed too."""
    return "".join(skeleton(name).split())


_FOLDED = {fold_method(m): m for m in MCP_METHODS}
_BY_LENGTH: dict[int, tuple[str, ...]] = {}
for _m in sorted(MCP_METHODS):
    _BY_LENGTH[len(_m)] = (*_BY_LENGTH.get(len(_m), ()), _m)


def mcp_method_like(name: str) -> str | None:
    """The MCP method ``name`` is, or reads as, or None.

    After :func:`fold_method`, a name that still holds non-ASCII characters matches an MCP method of the same
    length when it reads as it (:func:`~mcpwrap._text.stands_in_for`): any character from another script in
    place of a Latin one is a look-alike, without a table that could miss one.
    """
    if name in MCP_METHODS:
        return name
    if len(name) > MAX_METHOD_CHARS:
        return None
    folded = fold_method(name)
    hit = _FOLDED.get(folded)
    if hit is not None or folded.isascii():
        return hit
    for method in _BY_LENGTH.get(len(folded), ()):
        if stands_in_for(folded, method):
            return method
    return None


def is_own_id(value: Any) -> bool:
    """Whether ``value`` is an id under mcpwrap's own prefix (in any case, width or invisible spelling)."""
    return isinstance(value, str) and clean_text(value[: len(OWN_ID_PREFIX) * 4]).casefold().startswith(OWN_ID_PREFIX)


def check(envelope: dict, direction: Direction) -> None:
    """Raise :class:`GateRefusal` for a form no MCP peer sends (see the module docstring); pass otherwise.

    ``envelope`` has passed :func:`mcpwrap._relay.jsonrpc.check_envelope` (a JSON-RPC 2.0 message object).
    """
    method = envelope.get("method")
    if method is None:
        _check_response(envelope)
        return
    if "params" in envelope and type(envelope["params"]) is not dict:
        params = envelope["params"]
        kind = "an array (positional parameters)" if isinstance(params, list) else "null" if params is None else type(params).__name__
        raise GateRefusal(f'"params" of {method!r} is {kind}; MCP parameters are an object of named parameters', "protocol.params")
    has_id = "id" in envelope
    if method in MCP_REQUEST_METHODS:
        if not has_id:
            raise GateRefusal(f"{method!r} is an MCP request and needs an id; sent as a notification it is refused", "protocol.request-without-id")
    elif method in MCP_NOTIFICATION_METHODS:
        if has_id:
            raise GateRefusal(f"{method!r} is an MCP notification and carries no id; sent as a request it is refused", "protocol.notification-with-id")
    else:
        spelled = mcp_method_like(method)
        if spelled is not None:
            raise GateRefusal(f"method {method!r} is not an MCP method; MCP spells it {spelled!r} (one spelling only)", "protocol.method-spelling")
    expected = _FIELD_TYPES.get(method)
    if expected is not None:
        named: dict = envelope.get("params") or {}
        for field, types, required in expected:
            if field in named:
                if type(named[field]) not in types:
                    raise GateRefusal(f'"{field}" of {method!r} must be {_TYPE_NAMES[types]}, not {type(named[field]).__name__}', "protocol.params")
            elif required:
                raise GateRefusal(f'{method!r} needs "{field}" in its params', "protocol.params")
    if direction is Direction.SERVER_TO_CLIENT:
        if has_id and is_own_id(envelope["id"]):
            raise GateRefusal(f"request ids beginning {OWN_ID_PREFIX!r} are mcpwrap's own; the server may not use them", "protocol.reserved-id")
        if method == "notifications/cancelled":
            target = envelope.get("params", {}).get("requestId")
            if is_own_id(target):
                raise GateRefusal("the server may not cancel a request mcpwrap sent to the client", "protocol.reserved-id")


def _check_response(envelope: dict) -> None:
    if "result" in envelope:
        if type(envelope["result"]) is not dict:
            raise GateRefusal(f'"result" is {type(envelope["result"]).__name__}; an MCP result is an object', "protocol.result")
        return
    err = envelope.get("error")
    if type(err) is not dict or type(err.get("code")) is not int or not isinstance(err.get("message"), str):
        raise GateRefusal('"error" must be an object with an integer "code" and a string "message"', "protocol.error")
