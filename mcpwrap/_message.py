"""What an interceptor sees and what it answers.

A :class:`Message` is one JSON-RPC message travelling in one :class:`Direction`. It carries the raw line
exactly as received (``raw``), the decoded envelope, and — for a response — the :class:`PendingRequest` it
answers, so interceptors never re-match ids themselves. Every message also carries the :class:`Session` of the
wrapped server (its name, who the subject is, the negotiated protocol version, the tools listed so far).

Interceptors hand facts down the chain through the message's typed :class:`Notes` (the policy's approval
requirement, a tool's risk class, the rate limits a request occupies), never through untyped dicts.

An interceptor answers with a :class:`Verdict`: pass, modify (with the new envelope and a description of what
changed, never the removed content itself), block (with a reason for a human and a model, and the rule that
decided) or hold (a request kept by the relay until the verdict's callback releases or answers it — human
approval). A verdict with ``enforce=False`` is recorded but not applied (``mode: audit``).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._text import ambiguous_names

__all__ = [
    "APPROVAL_CHANNELS",
    "APPROVAL_REMEMBER",
    "DEFAULT_APPROVAL_TIMEOUT",
    "ApprovalNeed",
    "Notes",
    "Direction",
    "Kind",
    "Action",
    "Message",
    "PendingRequest",
    "Session",
    "ToolCatalog",
    "Verdict",
    "HeldCall",
    "RequestId",
]

RequestId = str | int  # JSON-RPC ids mcpwrap accepts (never null, never a boolean)


APPROVAL_CHANNELS = ("elicitation", "stateless", "terminal")  # how a person can be asked, in a rule's order
APPROVAL_REMEMBER = ("once", "session", "always")  # what a person's answer may cover
DEFAULT_APPROVAL_TIMEOUT = 120.0  # seconds a person has to answer before the rule's on_timeout applies


class Direction(str, enum.Enum):
    CLIENT_TO_SERVER = "c2s"
    SERVER_TO_CLIENT = "s2c"

    @property
    def reverse(self) -> Direction:
        return Direction.SERVER_TO_CLIENT if self is Direction.CLIENT_TO_SERVER else Direction.CLIENT_TO_SERVER


class Kind(str, enum.Enum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESULT = "result"
    ERROR = "error"

    @property
    def is_response(self) -> bool:
        return self is Kind.RESULT or self is Kind.ERROR


class Action(str, enum.Enum):
    PASS = "pass"
    MODIFY = "modify"
    BLOCK = "block"
    HOLD = "hold"  # not forwarded now: the verdict's ``hold`` callback later releases or answers it (see _relay)


@dataclass(frozen=True, slots=True)
class ApprovalNeed:
    """The policy's requirement that a person approve this request (an ``approve`` rule matched)."""

    rule: str
    reason: str
    timeout: float = DEFAULT_APPROVAL_TIMEOUT
    on_timeout: str = "deny"  # deny | allow
    channels: tuple[str, ...] = APPROVAL_CHANNELS
    remember: tuple[str, ...] = APPROVAL_REMEMBER


@dataclass(slots=True)
class Notes:
    """Facts one interceptor establishes about a message for those after it in the chain."""

    approval: ApprovalNeed | None = None  # policy → approval: ask a person before forwarding
    risk: str | None = None  # policy: the risk class of the tool a tools/call names
    listed_risks: dict[str, str] | None = None  # policy: tool → risk class, for a tools/list result
    ratelimit_slots: tuple[str, ...] = ()  # policy: concurrency-capped rate limits this request occupies
    # secrets → audit: the params value the secrets detectors read with every detector on and found nothing in
    # (the audit record's redaction of the same arguments would change nothing)
    secrets_clean: Any = None


@dataclass(slots=True)
class PendingRequest:
    """A request that was forwarded and awaits its response (tracked per direction)."""

    id: Any
    method: str
    direction: Direction
    params: Any
    sent_at: float = field(default_factory=time.monotonic)
    cancelled: bool = False

    @property
    def tool_name(self) -> str | None:
        if self.method == "tools/call" and isinstance(self.params, dict):
            name = self.params.get("name")
            return name if isinstance(name, str) else None
        return None


class ToolCatalog:
    """The tools a server listed in this session, as the client received them.

    Filled from ``tools/list`` results (pagination: a request without ``cursor`` starts a new listing) and
    forgotten on ``notifications/tools/list_changed``. Interceptors read it (schemas, risk, integrity); only the
    relay writes it, after the chain has decided, so it holds what the client was actually shown.

    A name listed twice in one listing (on one page or across its pages), or beside a name that reads the same
    (:func:`mcpwrap._text.ambiguous_names`), has no entry: which definition a call means is unknowable, so no
    interceptor may check a call against either. Such names are in :attr:`ambiguous` until the next listing.
    """

    __slots__ = ("tools", "generation", "ambiguous", "_pending", "_listed")

    def __init__(self) -> None:
        self.tools: dict[str, dict] = {}
        self.generation = 0  # bumped whenever the catalog changes, so caches can key on it
        self.ambiguous: frozenset[str] = frozenset()
        self._pending: dict[str, dict] | None = None
        self._listed: list[str] = []  # every name of the current listing so far, repeats included

    def record_page(self, tools: list, *, first_page: bool, last_page: bool) -> None:
        if first_page or self._pending is None:
            self._pending = {}
            self._listed = []
            self.ambiguous = frozenset()
        named = [tool for tool in tools if isinstance(tool, dict) and isinstance(tool.get("name"), str)]
        self._listed += [tool["name"] for tool in named]
        bad = ambiguous_names(self._listed) if len(self._listed) > 1 else set()
        for tool in named:
            if tool["name"] not in bad:
                self._pending[tool["name"]] = tool
        for name in bad:
            self._pending.pop(name, None)
        self.ambiguous = frozenset(bad)
        if last_page:
            self.tools = self._pending
            self._pending = None
        else:
            # Pages seen so far are usable at once: a client may call a tool from page one.
            self.tools = {k: v for k, v in {**self.tools, **self._pending}.items() if k not in bad}
        self.generation += 1

    def forget(self) -> None:
        self.tools = {}
        self._pending = None
        self._listed = []
        self.ambiguous = frozenset()
        self.generation += 1

    def get(self, name: str) -> dict | None:
        return self.tools.get(name)


@dataclass(slots=True)
class Session:
    """One wrapped server, as seen by one mcpwrap process."""

    session_id: str
    server: str
    subject: str = ""
    roles: tuple[str, ...] = ()
    protocol_version: str | None = None
    client_capabilities: dict = field(default_factory=dict)
    client_info: dict = field(default_factory=dict)
    server_info: dict = field(default_factory=dict)
    server_instructions: str | None = None
    stateless: bool = False
    tools: ToolCatalog = field(default_factory=ToolCatalog)

    def client_supports(self, capability: str) -> bool:
        return isinstance(self.client_capabilities, dict) and capability in self.client_capabilities


class Message:
    """One JSON-RPC message (or one element of a batch) in flight."""

    __slots__ = (
        "direction",
        "raw",
        "envelope",
        "kind",
        "id",
        "method",
        "request",
        "session",
        "received_at",
        "modified",
        "changes",
        "in_batch",
        "notes",
    )

    def __init__(
        self,
        direction: Direction,
        raw: bytes,
        envelope: dict,
        session: Session,
        request: PendingRequest | None = None,
        *,
        in_batch: bool = False,
    ) -> None:
        self.direction = direction
        self.raw = raw
        self.envelope = envelope
        self.session = session
        self.request = request
        self.received_at = time.monotonic()
        self.modified = False
        self.changes: list[dict] = []
        self.in_batch = in_batch
        self.notes = Notes()
        method = envelope.get("method")
        self.id: Any = envelope.get("id")
        if isinstance(method, str):
            self.kind = Kind.REQUEST if "id" in envelope else Kind.NOTIFICATION
            self.method = method
        else:
            self.kind = Kind.ERROR if "error" in envelope else Kind.RESULT
            self.method = request.method if request is not None else None  # type: ignore[assignment]

    # Convenience views -------------------------------------------------------------------------------------
    @property
    def params(self) -> Any:
        return self.envelope.get("params")

    @property
    def result(self) -> Any:
        return self.envelope.get("result")

    @property
    def error(self) -> Any:
        return self.envelope.get("error")

    @property
    def is_request(self) -> bool:
        return self.kind is Kind.REQUEST

    @property
    def is_response(self) -> bool:
        return self.kind is Kind.RESULT or self.kind is Kind.ERROR

    @property
    def tool_name(self) -> str | None:
        """The tool a ``tools/call`` request names, or that the answered request named."""
        if self.kind is Kind.REQUEST and self.method == "tools/call":
            params = self.params
            if isinstance(params, dict) and isinstance(params.get("name"), str):
                return params["name"]
            return None
        if self.request is not None:
            return self.request.tool_name
        return None

    @property
    def latency_ms(self) -> float | None:
        if self.request is None:
            return None
        return (self.received_at - self.request.sent_at) * 1000.0

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Message {self.direction.value} {self.kind.value} id={self.id!r} method={self.method!r}>"


@dataclass(slots=True)
class Verdict:
    """An interceptor's decision on one message."""

    action: Action
    reason: str = ""
    rule: str | None = None
    interceptor: str = ""
    envelope: dict | None = None  # MODIFY: the replacement envelope
    changes: dict | None = None  # MODIFY: what changed, for _meta and audit (never the removed content)
    details: dict | None = None  # extra audit fields (signals, scores, matched fields)
    enforce: bool = True  # False: mode "audit" — record what would have happened, let it pass
    retry_after: float | None = None  # rate limits: seconds until a retry may succeed
    hold: Callable[[HeldCall], None] | None = None  # HOLD: called once with the relay's handle, after observe

    @classmethod
    def block(cls, reason: str, *, rule: str | None = None, **kw: Any) -> Verdict:
        return cls(Action.BLOCK, reason, rule, **kw)

    @classmethod
    def modify(cls, envelope: dict, changes: dict, *, reason: str = "", rule: str | None = None, **kw: Any) -> Verdict:
        return cls(Action.MODIFY, reason, rule, envelope=envelope, changes=changes, **kw)

    @classmethod
    def held(cls, hold: Callable[[HeldCall], None], *, reason: str = "", rule: str | None = None, **kw: Any) -> Verdict:
        """Keep a request (no response yet, nothing forwarded); ``hold(handle)`` decides it later."""
        return cls(Action.HOLD, reason, rule, hold=hold, **kw)

    @classmethod
    def allow(cls, *, rule: str | None = None, reason: str = "", **kw: Any) -> Verdict:
        """An explicit pass that should still be recorded (e.g. which rule allowed a call)."""
        return cls(Action.PASS, reason, rule, **kw)


class HeldCall(Protocol):
    """What the interceptor that held a request (a HOLD verdict) can do with it later, from any thread.

    The relay owns the request; this handle is the whole seam. Every method that ends the hold (``release``,
    ``answer``, ``reply``) returns False when the hold had already ended — released, answered, cancelled by
    the client, answered on the server's exit, client gone: the first decision wins, the others are no-ops.
    """

    @property
    def msg(self) -> Message: ...

    @property
    def id(self) -> RequestId: ...

    @property
    def forward_bytes(self) -> bytes:
        """What a release sends, byte for byte: frozen when the request was held."""
        ...

    @property
    def progress_token(self) -> str | int | None: ...

    @property
    def held_seconds(self) -> float: ...

    def is_ended(self) -> bool: ...

    def on_end(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once the hold ends in any way (at once if it already has)."""
        ...

    def release(self, envelope: dict | None = None) -> bool:
        """Forward the frozen request to the server (or ``envelope``, serialised) and track it as pending."""
        ...

    def answer(self, verdict: Verdict) -> bool:
        """Answer the client with the block contract for ``verdict``; nothing reaches the server."""
        ...

    def reply(self, response: dict, reason: str = "answered by mcpwrap") -> bool:
        """Answer the client with a response mcpwrap composed (its id must be the held request's)."""
        ...

    def progress(self, progress: float, total: float | None = None, message: str | None = None) -> bool:
        """Send ``notifications/progress`` for this request, if it carried a progressToken and is still held."""
        ...

    def ask_client(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None:
        """Send mcpwrap's own request to the client (e.g. ``elicitation/create``); ``on_response(envelope)``
        gets the answer, which never reaches the server. Returns the request's id, or None if it cannot be sent."""
        ...

    def withdraw(self, request_id: str, reason: str) -> bool:
        """Withdraw a request made with :meth:`ask_client` (the client is told with ``notifications/cancelled``)."""
        ...

    def audit(self, event: str, **fields: Any) -> None:
        """Record an audit event about this hold, written at once."""
        ...
