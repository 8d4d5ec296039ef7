"""Stateless approval state: the ``requestState`` a 2026-07-28 client carries back with the person's answer.

The state holds the frozen call, the session, a one-time nonce and an expiry, HMAC-SHA256-protected with the
per-installation approval key (:mod:`mcpwrap._state.approvals`). A state that was forged, damaged or made with
another key does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

__all__ = ["STATE_PREFIX", "sign_state", "verify_state"]

STATE_PREFIX = "mcpwrap1."


def sign_state(key: bytes, payload: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).rstrip(b"=").decode("ascii")
    mac = hmac.new(key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
    return STATE_PREFIX + body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def verify_state(key: bytes, state: str) -> dict | None:
    """The payload of a state this installation signed, or None."""
    rest = state[len(STATE_PREFIX) :]
    body, dot, mac_text = rest.rpartition(".")
    if not dot or not body:
        return None
    try:
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
        expected = hmac.new(key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None
