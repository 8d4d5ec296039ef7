"""What a person's decisions leave behind in a session, and "remember always" in the overrides store.

One :class:`SessionMemory` belongs to the approval interceptor of one session and lives as long as it (a
policy reload keeps it); nothing here is module-global, so two sessions never share what they remember.

- ``remembered``: (rule, subject) pairs a person approved for the rest of the session (``remember: session``,
  and ``always`` too, whatever the overrides file says later).
- ``used_nonces``: stateless states already redeemed, until they expire: a state is good for one retry.
- ``continuations``: approved calls of a stateless session. The server may answer an approved call with its
  own ``input_required``; the client's retry (same call, the server's ``requestState``) continues the call a
  person approved and is not asked again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..._message import Message, Session
from ..._state.approvals import ApprovalError, override_rule, write_override_rule
from .form import arguments_of, subject_of
from .token import call_digest

__all__ = ["SessionMemory"]


class SessionMemory:
    """What the interceptor learns over a session: approvals remembered for the session, used nonces."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lock = threading.Lock()
        self.remembered: set[tuple[str, str]] = set()
        self.used_nonces: dict[str, float] = {}  # nonce → expiry (pruned when past)
        self.continuations: dict[str, float] = {}  # digest of the call → expiry

    # --- remembered approvals ------------------------------------------------------------------------------

    def is_remembered(self, rule: str, msg: Message) -> bool:
        return (rule, subject_of(msg)) in self.remembered

    def remember(self, msg: Message, rule: str, remember: str, arguments: Any, audit: Callable[..., None]) -> None:
        """Keep a person's approval as they chose: ``session`` here, ``always`` also as an override rule."""
        if remember == "session":
            with self.lock:
                self.remembered.add((rule, subject_of(msg)))
        elif remember == "always":
            try:
                written = write_override_rule(override_rule(server=self.session.server, tool=subject_of(msg), arguments=arguments))
                audit("approval-remembered", rule=rule, tool=msg.tool_name, file=str(written))
            except (ApprovalError, ValueError, OSError) as exc:
                audit("approval-remembered", rule=rule, tool=msg.tool_name, error=str(exc))
            with self.lock:  # also for the rest of this session, whatever the file says
                self.remembered.add((rule, subject_of(msg)))

    def always_possible(self, msg: Message) -> bool:
        """Whether ``remember: always`` can be offered: an override rule can express exactly this call."""
        if msg.method != "tools/call":
            return False
        try:
            override_rule(server=self.session.server, tool=subject_of(msg), arguments=arguments_of(msg))
        except ValueError:
            return False
        return True

    # --- stateless sessions ----------------------------------------------------------------------------------

    def note_approved(self, msg: Message, params: Any, seconds: float) -> None:
        """Note an approved call of a stateless session, so the server's own retries of it are not asked again."""
        if self.session.stateless:
            self.approve_continuations(call_digest(msg.method, params), seconds)

    def approve_continuations(self, digest: str, seconds: float) -> None:
        with self.lock:
            self.continuations[digest] = time.time() + seconds

    def is_continuation(self, digest: str) -> bool:
        now = time.time()
        with self.lock:
            for d, exp in list(self.continuations.items()):
                if exp < now:
                    del self.continuations[d]
            return digest in self.continuations

    def use_nonce(self, nonce: str, expires: float) -> bool:
        """Redeem a state's nonce; False if it was redeemed before (a replay)."""
        now = time.time()
        with self.lock:
            for n, exp in list(self.used_nonces.items()):
                if exp < now:
                    del self.used_nonces[n]
            if nonce in self.used_nonces:
                return False
            self.used_nonces[nonce] = expires
            return True
