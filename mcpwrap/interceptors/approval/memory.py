"""What the approval interceptor learns over one session: approvals remembered for the session, used nonces of
stateless approval states, and approved calls whose server-initiated continuations need no second question.

It belongs to the interceptor, which lives as long as the session (a reload reconfigures it): no module-global
state keyed by session.
"""

from __future__ import annotations

import threading
import time

__all__ = ["SessionMemory"]


class SessionMemory:
    """What the interceptor learns over a session: approvals remembered for the session, used nonces."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remembered: set[tuple[str, str]] = set()
        self.used_nonces: dict[str, float] = {}  # nonce → expiry (pruned when past)
        # Approved calls of a stateless session: the server may answer one with its own input_required, and the
        # client's retry (same call, the server's requestState) continues the approved call — not a new one.
        self.continuations: dict[str, float] = {}  # digest of the call → expiry

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
        now = time.time()
        with self.lock:
            for n, exp in list(self.used_nonces.items()):
                if exp < now:
                    del self.used_nonces[n]
            if nonce in self.used_nonces:
                return False
            self.used_nonces[nonce] = expires
            return True
