"""The relay: request tracking, the two pumps, and refusing what cannot be examined. It knows nothing of policy.

    client ──stdin──► [c2s pump] ──chain──► child stdin
    client ◄─stdout── [s2c pump] ◄─chain─── child stdout          child stderr → our stderr (inherited)

The package around this module: :mod:`.framing` cuts lines, :mod:`.jsonrpc` decodes strictly and writes the
block contract, :mod:`.io` writes to one pipe, :mod:`.process` spawns, signals and ends the server,
:mod:`.holds` is the handle of a held request, :mod:`.learn` keeps the session's facts up to date.

Design
- Each pump is an OS thread doing blocking reads of whole chunks: read → frame → decode → chain → write.
  A pump is a strictly sequential loop, so a thread is the cheapest correct form (no event-loop hop per
  message); the GIL is released while a pump waits in ``read``/``write``.
- A message no interceptor modified is forwarded as the exact bytes received. mcpwrap serialises only what
  it writes itself: modified messages, block answers, and errors for refused lines.
- The writes one read produces are flushed together, audit records first: nothing is forwarded before the
  record that describes it is written (or, when it cannot be and the audit log's policy is ``block``, it is
  answered instead of forwarded).
- Before the chain, every message passes the protocol gate (:mod:`mcpwrap._relay.gate`): forms MCP does not
  have (a look-alike method name, a request without an id, positional params…) are refused and audited.
- Requests are tracked per direction (the client's and the server's ids overlap). A response is matched to
  the request it answers before the chain sees it. Each direction holds at most
  :data:`~mcpwrap._relay.tracking.MAX_IN_FLIGHT` requests in flight (pending, held, and mcpwrap's own requests to the client); the excess is answered at
  once with the block contract (rule ``in-flight-limit``), to whoever sent it.
- Ids mcpwrap sends itself are ``mcpwrap-`` plus 128 random bits (never derived from anything a peer can
  read), and never accepted from a peer: the gate refuses a server request under that prefix, and a client
  response under it that answers none of mcpwrap's requests is dropped, never routed to the server.
- Invariant: every request that enters gets exactly one response — from the peer, from mcpwrap when it
  blocks or refuses it, or from mcpwrap when the child exits with the request pending.
- Held requests (a HOLD verdict, e.g. waiting for a person's approval; see :mod:`.holds`): the relay keeps the
  request in ``held`` and decides its end under the pending lock, so a release, an answer, the client's
  ``notifications/cancelled`` (ends it without an answer), the child's exit (answers it like a pending
  request) and the client's EOF (ends it) race safely. Other traffic keeps flowing meanwhile. A held request
  counts as in flight for the duplicate-id check.
- mcpwrap's own requests to the client (:meth:`Relay.send_client_request`, ids from :meth:`next_own_id`) are
  answered by the client to mcpwrap: such a response is routed to the registered callback and never reaches
  the server.
- Lifecycle (:mod:`.process`): client EOF → close the child's stdin → grace → SIGTERM to the child's group →
  grace → SIGKILL. When the child exits, what it wrote is drained, pending requests are answered and mcpwrap
  exits with the child's status. SIGHUP calls the reload hook and never kills the relay.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .._chain import Chain
from .._errors import AuditError, ProtocolError
from .._log import warning
from .._message import Action, Direction, Kind, Message, PendingRequest, Session, Verdict
from . import gate, holds, process, tracking
from . import jsonrpc as rpc
from .framing import DEFAULT_MAX_MESSAGE_BYTES, Frame, LineReader
from .holds import HeldRequest
from .io import PipeWriter
from .learn import learn_from_client, learn_from_server

__all__ = ["Relay", "HeldRequest", "AuditQueue", "DRAIN_GRACE"]

DRAIN_GRACE = 1.0  # after the child exits, time to read what it left in the pipe


class AuditQueue(Protocol):
    """What the relay needs of the audit log: queue a record, and write the queued ones."""

    def record(self, event: str, **fields: Any) -> object: ...

    def flush(self) -> None:
        """Write what was recorded; raise AuditError when it cannot and the log's policy is ``block``."""
        ...


class _Batch:
    """Writes produced by one read, flushed together: audit first, then forwards, then answers."""

    __slots__ = ("forward", "reply", "requests")

    def __init__(self) -> None:
        self.forward: list[bytes] = []
        self.reply: list[bytes] = []
        self.requests: list[Any] = []  # ids of the requests in ``forward`` (answered here if it can't be sent)


class Relay:
    def __init__(
        self,
        command: list[str],
        session: Session,
        chain: Chain | None = None,
        *,
        audit: AuditQueue | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        env: dict | None = None,
        on_reload: Callable[[], None] | None = None,
        client_in: int = 0,
        client_out: int = 1,
        sandbox: Any = None,
        max_in_flight: int = tracking.MAX_IN_FLIGHT,
    ) -> None:
        self.command = command
        self.sandbox = sandbox  # a mcpwrap._sandbox.SandboxPlan: starts the child sandboxed (None: as is)
        self.session = session
        self.chain = chain if chain is not None else Chain([])  # reconfigured in place on reload
        self.audit = audit
        self.max_message_bytes = max_message_bytes
        self.env = env
        self.on_reload = on_reload
        self.client_in = client_in
        self.client_out_fd = client_out
        self.pending: dict[Direction, dict[Any, PendingRequest]] = {
            Direction.CLIENT_TO_SERVER: {},
            Direction.SERVER_TO_CLIENT: {},
        }
        self._pending_lock = threading.Lock()
        self.held: dict[Any, HeldRequest] = {}  # client requests held by a HOLD verdict (under _pending_lock)
        self._own_requests: dict[str, Callable[[dict], None]] = {}  # mcpwrap's requests to the client
        self._exiting = False  # set once pending requests were answered on the child's exit
        self.max_in_flight = max_in_flight
        self.child: subprocess.Popen | None = None
        self.client_eof = threading.Event()
        self.child_exited = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self, child: subprocess.Popen | None = None) -> None:
        """Spawn the server (before the chain is configured: it boots while mcpwrap loads its policy), or adopt
        ``child``, spawned by :func:`process.spawn` before this module was even imported."""
        self.child = child if child is not None else process.spawn(self.command, self.env, self.sandbox.popen if self.sandbox is not None else None)
        assert self.child.stdin is not None and self.child.stdout is not None
        self.to_server = PipeWriter(self.child.stdin.fileno(), "server")
        self.to_client = PipeWriter(self.client_out_fd, "client")
        self._server_stdout = self.child.stdout.fileno()

    def run(self) -> int:
        """Relay until the child exits; return mcpwrap's exit status (the child's)."""
        if self.child is None:
            self.start()
        assert self.child is not None
        process.install_signal_handlers(self._signal_group, self._reload)
        self._audit_event("session-start", command=self.command, pid=self.child.pid)
        self._flush_audit()
        c2s = threading.Thread(target=self._pump, args=(Direction.CLIENT_TO_SERVER,), name="mcpwrap-c2s", daemon=True)
        s2c = threading.Thread(target=self._pump, args=(Direction.SERVER_TO_CLIENT,), name="mcpwrap-s2c", daemon=True)
        c2s.start()
        s2c.start()
        status = process.exit_status(self.child)
        self.child_exited.set()
        s2c.join(DRAIN_GRACE)  # what the child wrote before exiting is still delivered
        if s2c.is_alive():
            # A grandchild still holds the pipe open: end the group so nothing outlives us.
            self._signal_group(signal.SIGKILL)
            s2c.join(DRAIN_GRACE)
        self._answer_pending_on_exit(status)
        self._audit_event("session-end", exit_code=status)
        self._flush_audit()
        self.chain.close()
        return status

    def abort(self) -> None:
        """Start-up failed after the child was spawned (bad policy, unwritable audit log): end it, reap it."""
        process.kill_and_reap(self.child)

    def _signal_group(self, signum: int) -> None:
        process.signal_group(self.child, signum)

    def _reload(self) -> None:
        if self.on_reload is not None:
            self.on_reload()

    def _client_gone(self) -> None:
        """The client closed our stdin: let the server finish, then make sure it ends."""
        self.client_eof.set()
        self._end_holds("the client closed the connection")
        self.to_server.close()
        assert self.child is not None
        process.end_after_eof(self.child, self.child_exited)

    # --- pumps -----------------------------------------------------------------------------------------------

    def _pump(self, direction: Direction) -> None:
        fd = self.client_in if direction is Direction.CLIENT_TO_SERVER else self._server_stdout
        forward_to = self.to_server if direction is Direction.CLIENT_TO_SERVER else self.to_client
        reply_to = self.to_client if direction is Direction.CLIENT_TO_SERVER else self.to_server
        reader = LineReader(fd, self.max_message_bytes)
        try:
            for frames in reader.batches():
                out = _Batch()
                for frame in frames:
                    self._handle_frame(direction, frame, out)
                if not self._flush_audit():
                    out = self._withhold_unaudited(direction, out)
                if out.forward and not forward_to.write(*out.forward):
                    self._answer_undeliverable(direction, out)
                if out.reply:
                    reply_to.write(*out.reply)
        except Exception as exc:  # pragma: no cover - a bug here must not leave the client hanging silently
            warning(f"internal error in the {direction.value} pump: {type(exc).__name__}: {exc}")
        if direction is Direction.CLIENT_TO_SERVER:
            self._client_gone()

    def _flush_audit(self) -> bool:
        """Write the audit records queued so far. False: they could not be written and the audit log's failure
        policy is ``block`` (the log has said so on stderr), so what they describe must not be forwarded."""
        if self.audit is None:
            return True
        try:
            self.audit.flush()
        except AuditError:
            return False
        return True

    def _withhold_unaudited(self, direction: Direction, out: _Batch) -> _Batch:
        """A batch whose audit records could not be written: nothing of it is forwarded.

        Runs only on that failure path, so it re-reads the batch's own output instead of the relay keeping
        every message: each request in it is answered with the block contract (and no longer tracked), each
        response becomes an error for the side that waits for it, notifications are dropped. mcpwrap's own
        answers in the batch (``out.reply``) still go back to the sender.
        """
        verdict = _audit_unwritable()
        withheld = _Batch()
        withheld.reply = list(out.reply)
        for line in b"".join(out.forward).splitlines():
            try:
                value = rpc.decode(line)
            except ProtocolError:  # mcpwrap's own encodings always decode; nothing undecodable is forwarded
                continue
            for envelope in value if isinstance(value, list) else (value,):
                if not isinstance(envelope, dict) or "id" not in envelope:
                    continue  # a notification: dropped
                msg = Message(direction, line, envelope, self.session)
                if "method" in envelope:
                    with self._pending_lock:
                        self.pending[direction].pop(envelope["id"], None)
                    withheld.reply.append(rpc.encode(rpc.blocked_request_response(msg, verdict)))
                else:
                    withheld.forward.append(rpc.encode(rpc.blocked_response_replacement(msg, verdict)))
        return withheld

    # --- one line --------------------------------------------------------------------------------------------

    def _handle_frame(self, direction: Direction, frame: Frame, out: _Batch) -> None:
        if frame.oversized:
            self._refuse(
                direction,
                frame.raw + b" " + frame.tail,
                ProtocolError(f"message of {frame.size} bytes exceeds the limit of {self.max_message_bytes} bytes", rpc.INVALID_REQUEST),
                out,
                size=frame.size,
            )
            return
        line = frame.raw
        try:
            value = rpc.decode(line)
        except ProtocolError as exc:
            self._refuse(direction, line, exc, out)
            return
        if isinstance(value, list):
            self._handle_batch(direction, line, value, out)
            return
        try:
            rpc.check_envelope(value)
            gate.check(value, direction)
            gate.check_capability(value, direction, self.session)
        except ProtocolError as exc:
            self._refuse(direction, line, exc, out, envelope=value)
            return
        result = self._handle_message(direction, line, value, out)
        if result is None:
            out.forward += (line, b"\n")  # no concatenation: a 64 MiB line is not copied again
        elif result is not _DROPPED:
            out.forward.append(rpc.encode(result))

    def _handle_batch(self, direction: Direction, line: bytes, elements: list, out: _Batch) -> None:
        """JSON-RPC batch (2025-03-26): every element is examined on its own; nothing passes as a whole."""
        if not elements:
            self._refuse(direction, line, ProtocolError("empty batch", rpc.INVALID_REQUEST), out)
            return
        forwarded: list[Any] = []
        untouched = True
        inner = _Batch()
        for element in elements:
            try:
                rpc.check_envelope(element)
                gate.check(element, direction)
                gate.check_capability(element, direction, self.session)
            except ProtocolError as exc:
                untouched = False
                self._refuse(direction, line, exc, inner, envelope=element, in_batch=True)
                continue
            result = self._handle_message(direction, line, element, inner, in_batch=True)
            if result is None:
                forwarded.append(element)
            elif result is _DROPPED:
                untouched = False
            else:
                untouched = False
                forwarded.append(result)
        if untouched:
            out.forward += (line, b"\n")
        elif forwarded:
            out.forward.append(rpc.encode(forwarded))
        # Answers mcpwrap gives to elements of a batch travel as one batch too.
        replies = [rpc.decode(r) for r in inner.reply]
        if replies:
            out.reply.append(rpc.encode(replies))
        out.forward.extend(inner.forward)

    def _handle_message(self, direction: Direction, line: bytes, envelope: dict, out: _Batch, *, in_batch: bool = False) -> Any:
        """Run one message through the chain. Returns None (forward raw), _DROPPED, or an envelope to forward."""
        request: PendingRequest | None = None
        is_response = "method" not in envelope
        msg_id = envelope.get("id")
        if is_response and direction is Direction.CLIENT_TO_SERVER and gate.is_own_id(msg_id):
            return self._own_response(msg_id, envelope, line)
        if is_response:
            with self._pending_lock:
                request = self.pending[direction.reverse].pop(msg_id, None)
            if request is None:
                self._audit_event(
                    "refused",
                    direction=direction.value,
                    id=msg_id,
                    reason="response to no pending request (unknown or already answered id); dropped",
                    size=len(line),
                )
                return _DROPPED
        elif "id" in envelope:
            with self._pending_lock:
                duplicate = msg_id in self.pending[direction] or (direction is Direction.CLIENT_TO_SERVER and msg_id in self.held)
                full = self._in_flight(direction) >= self.max_in_flight
            if duplicate:
                self._refuse(
                    direction,
                    line,
                    ProtocolError(f"request id {msg_id!r} is already in flight; ids must be unique", rpc.INVALID_REQUEST),
                    out,
                    envelope=envelope,
                    in_batch=in_batch,
                )
                return _DROPPED
            if full:
                self._refuse_over_limit(direction, line, envelope, out, in_batch)
                return _DROPPED
        msg = Message(direction, line, envelope, self.session, request, in_batch=in_batch)
        if direction is Direction.CLIENT_TO_SERVER and msg.kind is not Kind.RESULT and msg.kind is not Kind.ERROR:
            learn_from_client(self.session, msg)
        chain = self.chain
        outcome = chain.run(msg)
        result: Any = None
        held: HeldRequest | None = None
        if outcome.action is Action.HOLD:
            held = HeldRequest(self, msg, holds.freeze(msg, line))
            with self._pending_lock:
                self.held[msg_id] = held
            result = _DROPPED
        elif outcome.action is Action.BLOCK:
            verdict = outcome.decisive
            assert verdict is not None
            if msg.kind is Kind.REQUEST:
                out.reply.append(rpc.encode(rpc.blocked_request_response(msg, verdict)))
                result = _DROPPED
            elif msg.kind is Kind.NOTIFICATION:
                result = _DROPPED
            else:
                result = rpc.blocked_response_replacement(msg, verdict)
        elif outcome.action is Action.MODIFY:
            result = rpc.annotate_modified(msg)
        if msg.kind is Kind.REQUEST and result is not _DROPPED:
            with self._pending_lock:
                self.pending[direction][msg_id] = PendingRequest(msg_id, msg.method or "", direction, msg.envelope.get("params"))
            out.requests.append(msg_id)
        elif msg.kind is Kind.NOTIFICATION and msg.method == "notifications/cancelled" and result is not _DROPPED:
            self._mark_cancelled(direction, msg)
        if direction is Direction.SERVER_TO_CLIENT and result is not _DROPPED:
            learn_from_server(self.session, msg, result if isinstance(result, dict) else envelope)
        chain.observe(msg, outcome)
        if held is not None:
            holds.start(held, outcome.decisive)
        return result

    def _refuse(
        self,
        direction: Direction,
        line: bytes,
        error: ProtocolError,
        out: _Batch,
        *,
        envelope: Any = None,
        size: int | None = None,
        in_batch: bool = False,
    ) -> None:
        """A line that cannot be examined is never forwarded; its sender gets an answer where one is awaited."""
        if isinstance(envelope, dict):
            msg_id = rpc.answerable_id(envelope.get("id"))
            is_request = "method" in envelope
        else:
            msg_id = rpc.recover_id(line)
            is_request = rpc.looks_like_request(line)
        answered = None
        if msg_id is not None and is_request:
            out.reply.append(rpc.encode(rpc.error_response(msg_id, error.code, f"mcpwrap refused this message: {error}")))
            answered = "sender"
        elif is_request and isinstance(envelope, dict) and "id" in envelope:
            # An id no peer can match (null, an object, a fraction): JSON-RPC's answer for an id that cannot be
            # determined is one under id null, so the sender still hears why nothing ran.
            out.reply.append(rpc.encode(rpc.error_response(None, error.code, f"mcpwrap refused this message: {error}")))
            answered = "sender"
        elif msg_id is not None and direction is Direction.SERVER_TO_CLIENT:
            # A refused response from the server: the client's request must still be answered.
            with self._pending_lock:
                request = self.pending[Direction.CLIENT_TO_SERVER].pop(msg_id, None)
            if request is not None:
                out.forward.append(
                    rpc.encode(rpc.error_response(msg_id, rpc.INTERNAL_ERROR, f"mcpwrap refused the server's response: {error}"))
                )
                answered = "client"
        self._audit_event(
            "refused",
            direction=direction.value,
            id=msg_id,
            action="block",
            interceptor="protocol" if error.rule else "framing",
            rule=error.rule or "unexaminable-message",
            method=envelope.get("method") if isinstance(envelope, dict) and isinstance(envelope.get("method"), str) else None,
            reason=str(error),
            size=size if size is not None else len(line),
            answered=answered,
        )
        warning(f"refused a {direction.value} message: {error}")

    # --- ends: cancellation, undeliverable requests, the child's exit ----------------------------------------

    def _mark_cancelled(self, direction: Direction, msg: Message) -> None:
        params = msg.params
        if isinstance(params, dict) and "requestId" in params:
            with self._pending_lock:
                request = self.pending[direction].get(params["requestId"])
                held = self.held.pop(params["requestId"], None) if direction is Direction.CLIENT_TO_SERVER else None
            if held is not None:  # a cancelled request is not answered (MCP cancellation)
                self._audit_event("hold-ended", id=held.id, method=held.msg.method, tool=held.msg.tool_name, reason="cancelled by the client")
                held.end("cancelled by the client")
            if request is not None:
                request.cancelled = True

    def _answer_undeliverable(self, direction: Direction, out: _Batch) -> None:
        """The peer's pipe is closed (the server exited, or the client left): answer what could not be sent."""
        if direction is not Direction.CLIENT_TO_SERVER:
            return  # the client is gone: nobody is left to answer the server's requests to
        answers = []
        for msg_id in out.requests:
            with self._pending_lock:
                request = self.pending[direction].pop(msg_id, None)
            if request is not None:
                answers.append(rpc.encode(rpc.error_response(msg_id, rpc.SERVER_UNAVAILABLE, "the MCP server is no longer running")))
                self._audit_event("answered-on-exit", direction="s2c", id=msg_id, method=request.method, tool=request.tool_name, reason="server stdin closed")
        if answers:
            self._flush_audit()
            out.reply.extend(answers)

    def _answer_pending_on_exit(self, status: int) -> None:
        with self._pending_lock:
            self._exiting = True
            pending = list(self.pending[Direction.CLIENT_TO_SERVER].values())
            self.pending[Direction.CLIENT_TO_SERVER].clear()
            self.pending[Direction.SERVER_TO_CLIENT].clear()
            held = list(self.held.values())
            self.held.clear()
            self._own_requests.clear()
        # Held requests are answered like pending ones: the server is gone, so nothing can release them.
        pending += [PendingRequest(h.id, h.msg.method or "", Direction.CLIENT_TO_SERVER, h.msg.params) for h in held]
        answers = []
        for request in pending:
            if request.cancelled:
                continue
            answers.append(
                rpc.encode(
                    rpc.error_response(
                        request.id,
                        rpc.SERVER_UNAVAILABLE,
                        f"the MCP server exited (status {status}) before answering this request",
                        {"mcpwrap": {"action": "error", "reason": "server exited", "exitCode": status}},
                    )
                )
            )
            self._audit_event(
                "answered-on-exit",
                direction="s2c",
                id=request.id,
                method=request.method,
                tool=request.tool_name,
                reason=f"server exited with status {status}",
            )
        if answers:
            self._flush_audit()
            self.to_client.write(*answers)
        for h in held:
            h.end(f"server exited with status {status}")

    # --- held requests (HoldOwner) and mcpwrap's own messages to the client -------------------------------

    def next_own_id(self) -> str:
        """An id for a request mcpwrap sends itself (see :func:`mcpwrap._relay.tracking.new_own_id`)."""
        return tracking.new_own_id()

    # --- request tracking (the policies live in mcpwrap._relay.tracking) -----------------------------------------

    def _in_flight(self, direction: Direction) -> int:
        """Requests in flight from ``direction``'s sender (caller holds _pending_lock)."""
        if direction is Direction.CLIENT_TO_SERVER:
            return len(self.pending[direction]) + len(self.held)
        return len(self.pending[direction]) + len(self._own_requests)

    def _refuse_over_limit(self, direction: Direction, line: bytes, envelope: dict, out: _Batch, in_batch: bool) -> None:
        msg = Message(direction, line, envelope, self.session, in_batch=in_batch)
        response, record = tracking.over_limit(msg, self.max_in_flight, len(line))
        out.reply.append(rpc.encode(response))
        self._audit_event("refused", **record)

    def _own_response(self, msg_id: Any, envelope: dict, line: bytes) -> Any:
        """A client response under mcpwrap's id prefix: the answer to one of its own requests, or dropped. It never
        reaches the server (the server cannot have asked under that prefix: the gate refuses it)."""
        with self._pending_lock:
            on_response = self._own_requests.pop(msg_id, None)
        if on_response is not None:
            self._deliver_own_response(msg_id, envelope, on_response, len(line))
        else:
            self._audit_event("refused", **tracking.stray_own_response(msg_id, len(line)))
        return _DROPPED

    def _take_held(self, held: HeldRequest) -> bool:
        """Whether ``held`` was still held (and is no longer). Caller holds _pending_lock."""
        if self.held.get(held.id) is held:
            del self.held[held.id]
            return True
        return False

    def release_held(self, held: HeldRequest, envelope: dict | None) -> bool:
        data = held.forward_bytes if envelope is None else rpc.encode(envelope)
        params = held.msg.envelope.get("params") if envelope is None else envelope.get("params")
        with self._pending_lock:
            if not self._take_held(held):
                return False
            server_gone = self._exiting or self.to_server.closed
            if not server_gone:
                self.pending[Direction.CLIENT_TO_SERVER][held.id] = PendingRequest(held.id, held.msg.method or "", Direction.CLIENT_TO_SERVER, params)
        if server_gone:
            response = rpc.error_response(
                held.id, rpc.SERVER_UNAVAILABLE, "the MCP server is no longer running", {"mcpwrap": {"action": "error", "reason": "server exited"}}
            )
            self.to_client.write(rpc.encode(response))
            held.end("server exited")
            return False
        held_ms = round(held.held_seconds * 1000, 3)
        self._audit_event("hold-released", id=held.id, method=held.msg.method, tool=held.msg.tool_name, held_ms=held_ms, size=len(data))
        if not self._flush_audit():  # the release cannot be recorded (audit.on_failure: block): answer, don't forward
            with self._pending_lock:
                self.pending[Direction.CLIENT_TO_SERVER].pop(held.id, None)
            self.to_client.write(rpc.encode(rpc.blocked_request_response(held.msg, _audit_unwritable())))
            held.end("audit log unwritable")
            return False
        if not self.to_server.write(data):  # the server's stdin closed meanwhile: answer instead of losing it
            with self._pending_lock:
                request = self.pending[Direction.CLIENT_TO_SERVER].pop(held.id, None)
            if request is not None:
                self._audit_event("answered-on-exit", direction="s2c", id=held.id, method=request.method, tool=request.tool_name, reason="server stdin closed")
                self._flush_audit()
                self.to_client.write(rpc.encode(rpc.error_response(held.id, rpc.SERVER_UNAVAILABLE, "the MCP server is no longer running")))
        held.end("released")
        return True

    def answer_held(self, held: HeldRequest, response: dict, reason: str) -> bool:
        with self._pending_lock:
            if not self._take_held(held):
                return False
        self._audit_event(
            "hold-answered", id=held.id, method=held.msg.method, tool=held.msg.tool_name, held_ms=round(held.held_seconds * 1000, 3), reason=reason
        )
        self._flush_audit()
        self.to_client.write(rpc.encode(response))
        held.end("answered")
        return True

    def _end_holds(self, reason: str) -> None:
        """End every hold without an answer (the client is gone: nobody is waiting for one)."""
        with self._pending_lock:
            held = list(self.held.values())
            self.held.clear()
            self._own_requests.clear()
        for h in held:
            self._audit_event("hold-ended", id=h.id, method=h.msg.method, tool=h.msg.tool_name, reason=reason)
            h.end(reason)
        if held:
            self._flush_audit()

    def send_client_request(self, method: str, params: dict, on_response: Callable[[dict], None]) -> str | None:
        """Send mcpwrap's own request to the client; ``on_response(envelope)`` gets the client's answer.

        Returns the request's id, or None when the client can no longer be written to. The response never
        reaches the server or the chain; it is recorded as an ``own-response`` audit event.
        """
        own_id = self.next_own_id()
        with self._pending_lock:
            if self._exiting or self.client_eof.is_set():
                return None
            if self._in_flight(Direction.SERVER_TO_CLIENT) >= self.max_in_flight:
                return None  # the caller falls back as when the client cannot be written to
            self._own_requests[own_id] = on_response
        self._audit_event("own-request", direction="s2c", id=own_id, method=method)
        self._flush_audit()
        if not self.to_client.write(rpc.encode({"jsonrpc": "2.0", "id": own_id, "method": method, "params": params})):
            with self._pending_lock:
                self._own_requests.pop(own_id, None)
            return None
        return own_id

    def cancel_client_request(self, own_id: str, reason: str) -> bool:
        """Withdraw one of mcpwrap's own requests (the client is told with ``notifications/cancelled``)."""
        with self._pending_lock:
            known = self._own_requests.pop(own_id, None) is not None
        if known:
            self.send_client_notification("notifications/cancelled", {"requestId": own_id, "reason": reason})
        return known

    def send_client_notification(self, method: str, params: dict) -> bool:
        if self.client_eof.is_set():
            return False
        return self.to_client.write(rpc.encode({"jsonrpc": "2.0", "method": method, "params": params}))

    def _deliver_own_response(self, own_id: str, envelope: dict, on_response: Callable[[dict], None], size: int) -> None:
        result = envelope.get("result")
        self._audit_event(
            "own-response",
            direction="c2s",
            id=own_id,
            kind="error" if "error" in envelope else "result",
            answer=result.get("action") if isinstance(result, dict) and isinstance(result.get("action"), str) else None,
            size=size,
        )
        try:
            on_response(envelope)
        except Exception as exc:  # the callback's owner decides; a failure here must not stop the pump
            warning(f"handling the client's answer to {own_id} failed: {type(exc).__name__}: {exc}")

    def record_now(self, event: str, **fields: Any) -> None:
        """Record an audit event and write it at once (for a hold's own thread: no pump flushes there)."""
        self._audit_event(event, **fields)
        self._flush_audit()

    def _audit_event(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.record(event, **fields)


def _audit_unwritable() -> Verdict:
    return Verdict.block(
        "mcpwrap cannot write its audit log, and its policy (audit.on_failure: block) forbids unaudited traffic",
        rule="audit-unwritable",
        interceptor="audit",
    )


class _Dropped:
    __repr__ = lambda self: "<dropped>"  # noqa: E731


_DROPPED: Any = _Dropped()
