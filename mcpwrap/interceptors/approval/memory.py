"""What the approval interceptor learns over one session: calls a person approved for the session, used nonces
of stateless approval states, and the server rounds an approved stateless call may continue through.

It belongs to the interceptor, which lives as long as the session (a reload reconfigures it): no module-global
state keyed by session.

- ``session`` approvals remember the exact call (rule, method and the whole params but ``_meta``, by canonical
  digest): the same call again passes, a call with other arguments is asked again.
- A stateless approval state is single use: its nonce is recorded until the state expires.
- Continuations: a server may answer an approved call with its own ``input_required`` and a ``requestState``;
  the client's retry of that call carrying *exactly that* ``requestState`` continues the approved call once,
  within a short time. Another ``requestState``, a second use, or another call is a new call and is asked.
"""

from __future__ import annotations

import threading
import time

__all__ = ["SessionMemory"]

MAX_REMEMBERED = 4096  # entries of each table (approved calls, nonces, continuations): bounded whatever the peer does


def _prune(table: dict, now: float) -> None:
    for key, expires in list(table.items()):
        if expires < now:
            del table[key]


class SessionMemory:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.remembered: set[tuple[str, str]] = set()  # (rule, digest of the exact call)
        self.used_nonces: dict[str, float] = {}  # nonce → expiry
        self.released: dict[object, tuple[str, float]] = {}  # request id of an approved, released call → (call key, seconds)
        self.continuations: dict[tuple[str, str], tuple[float, float]] = {}  # (call key, server's requestState) → (expiry, seconds)

    # --- remember: session ------------------------------------------------------------------------------------

    def remember(self, rule: str, call_key: str) -> None:
        with self.lock:
            if len(self.remembered) < MAX_REMEMBERED:
                self.remembered.add((rule, call_key))

    def is_remembered(self, rule: str, call_key: str) -> bool:
        return (rule, call_key) in self.remembered

    # --- stateless ----------------------------------------------------------------------------------------------

    def use_nonce(self, nonce: str, expires: float) -> bool:
        now = time.time()
        with self.lock:
            _prune(self.used_nonces, now)
            if nonce in self.used_nonces or len(self.used_nonces) >= MAX_REMEMBERED:
                return False
            self.used_nonces[nonce] = expires
            return True

    def released_approved(self, request_id: object, call_key: str, seconds: float) -> None:
        """An approved call went to the server under ``request_id``: its answer may open a continuation."""
        with self.lock:
            if len(self.released) >= MAX_REMEMBERED:
                self.released.clear()
            self.released[request_id] = (call_key, seconds)

    def answered(self, request_id: object, server_state: str | None) -> None:
        """The server answered ``request_id``; with ``input_required`` + ``requestState`` the client's retry of
        that call carrying this state continues it once."""
        with self.lock:
            found = self.released.pop(request_id, None)
            if found is None or server_state is None:
                return
            call_key, seconds = found
            now = time.time()
            for key, (expires, _) in list(self.continuations.items()):
                if expires < now:
                    del self.continuations[key]
            if len(self.continuations) < MAX_REMEMBERED:
                self.continuations[(call_key, server_state)] = (now + seconds, seconds)

    def take_continuation(self, call_key: str, server_state: str) -> float | None:
        """Consume the continuation of ``call_key`` through ``server_state``: the seconds the next round gets
        again, or None when there is none (never opened, used already, expired)."""
        with self.lock:
            found = self.continuations.pop((call_key, server_state), None)
        if found is None or found[0] < time.time():
            return None
        return found[1]
