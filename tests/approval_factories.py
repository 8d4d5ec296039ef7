"""Calls, sessions and a held-call double for the approval package's unit tests (no relay, no event loop)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from factories import make_interceptor

from mcpwrap._message import ApprovalNeed, Direction, Message, Session, Verdict
from mcpwrap.interceptors.approval import INPUT_KEY, ApprovalInterceptor, ApprovalSettings

NOTE = {
    "rule": "confirm",
    "timeout": 30.0,
    "on_timeout": "deny",
    "channels": ["elicitation", "stateless", "terminal"],
    "remember": ["once", "session"],
    "reason": "writes files",
}
LEGACY_ELICIT = dict(protocol_version="2025-11-25", client_capabilities={"elicitation": {"form": {}}})
MODERN_ELICIT = dict(protocol_version="2026-07-28", stateless=True, client_capabilities={"elicitation": {}})
DEADLINE = 10.0  # seconds a condition may take on a loaded machine before a test fails


def need(note: dict) -> ApprovalNeed:
    """The policy's requirement, from a dict shaped like a rule's approve options."""
    return ApprovalNeed(**{k: tuple(v) if isinstance(v, list) else v for k, v in note.items()})


def session(**kw) -> Session:
    # A fresh id per session: approvals remembered for a session live as long as the process.
    return Session(session_id=kw.pop("session_id", None) or secrets.token_hex(8), server="files", **kw)


def call(sess: Session, *, tool="write", args=None, note=NOTE, msg_id=1, extra=None) -> Message:
    params = {"name": tool, "arguments": args if args is not None else {"path": "/tmp/x", "text": "hi"}, **(extra or {})}
    msg = Message(Direction.CLIENT_TO_SERVER, b"", {"jsonrpc": "2.0", "id": msg_id, "method": "tools/call", "params": params}, sess)
    if note is not None:
        msg.notes.approval = need(note)
    return msg


def interceptor(sess: Session, tmp_path, **kw) -> ApprovalInterceptor:
    return make_interceptor(ApprovalInterceptor, sess, kw.pop("settings", None) or ApprovalSettings(), key_path=str(tmp_path / "key"), **kw)


def first_leg(tmp_path, sess, **kw):
    """A stateless call put to a person: the interceptor and its input_required result."""
    icpt = interceptor(sess, tmp_path)
    msg = call(sess, extra={"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}, **kw)
    verdict = icpt.inspect(msg)
    held = FakeHeld(msg)
    verdict.hold(held)
    (reply,) = held.replies
    return icpt, reply["result"]


def retry(sess, state, *, args=None, answer=None, msg_id=2, tool="write"):
    """The client's retry of a stateless call, with the person's answer and mcpwrap's state."""
    responses = {INPUT_KEY: answer or {"action": "accept", "content": {"decision": "approve"}}}
    return call(sess, tool=tool, args=args, msg_id=msg_id, extra={"_meta": {"progressToken": 7}, "inputResponses": responses, "requestState": state})


def wait_until(condition: Callable[[], Any], deadline: float = DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


class FakeHeld:
    """The whole :class:`~mcpwrap._message.HeldCall` as a hold callback sees it, recording what it was asked.

    Like the relay's handle, the first of release / answer / reply / an end from outside wins and the others
    return False. ``ask_client`` keeps the callback so a test can answer as the client would.
    """

    def __init__(self, msg: Message, *, forward_bytes: bytes = b"frozen\n", progress_token: str | int | None = None, can_ask: bool = True) -> None:
        self.msg = msg
        self.id = msg.id
        self.forward_bytes = forward_bytes
        self.progress_token = progress_token
        self.held_at = time.monotonic()
        self.can_ask = can_ask
        self.lock = threading.Lock()
        self.ended = threading.Event()
        self.end_reason: str | None = None
        self._on_end: list[Callable[[str], None]] = []
        self.replies: list = []
        self.released: list = []
        self.answers: list[Verdict] = []
        self.records: list = []
        self.asked: list[tuple[str, dict, Callable[[dict], None]]] = []
        self.withdrawn: list[str] = []
        self.progressed: list[float] = []

    @property
    def held_seconds(self) -> float:
        return time.monotonic() - self.held_at

    def is_ended(self) -> bool:
        return self.ended.is_set()

    def on_end(self, callback: Callable[[str], None]) -> None:
        self._on_end.append(callback)
        if self.ended.is_set():
            callback(self.end_reason or "")

    def _end(self, reason: str, record: Callable[[], None]) -> bool:
        with self.lock:
            if self.ended.is_set():
                return False
            record()
            self.end_reason = reason
            self.ended.set()
        for callback in self._on_end:
            callback(reason)
        return True

    def end_from_outside(self, reason: str) -> bool:
        """What the relay does when the client cancels or leaves, or the server exits."""
        return self._end(reason, lambda: None)

    def release(self, envelope=None) -> bool:
        return self._end("released", lambda: self.released.append(envelope))

    def answer(self, verdict) -> bool:
        return self._end("answered", lambda: self.answers.append(verdict))

    def reply(self, response, reason="") -> bool:
        return self._end("answered", lambda: self.replies.append(response))

    def progress(self, progress, total=None, message=None) -> bool:
        if self.progress_token is None or self.ended.is_set():
            return False
        self.progressed.append(progress)
        return True

    def ask_client(self, method, params, on_response) -> str | None:
        if not self.can_ask:
            return None
        self.asked.append((method, params, on_response))
        return f"mcpwrap-test-{len(self.asked)}"

    def withdraw(self, request_id, reason) -> bool:
        self.withdrawn.append(request_id)
        return True

    def audit(self, event, **fields) -> None:
        self.records.append((event, fields))

    def statuses(self) -> list[str]:
        return [f["status"] for e, f in self.records if e == "approval"]
