"""The stateless ``requestState``: signed by mcpwrap, opaque to the client, worthless to anyone else.

A 2026-07-28 client is answered ``input_required`` and retries the call later with the state it was given;
mcpwrap keeps nothing in between except the nonces already used. The state therefore carries the call
itself, and its integrity is everything:

    mcpwrap1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(key, "mcpwrap1." + body))>

- The key is per installation (:func:`mcpwrap._state.approvals.load_or_create_key`, 0600): a server or a
  model cannot mint or alter a state; :func:`verify` compares the MAC in constant time and returns None for
  anything forged, damaged or not ours.
- The payload binds the session, an expiry and a one-time nonce (:func:`new_nonce`); the caller checks those.
- :func:`call_params` is what the person approves: the request's params without the transport fields
  (``_meta``, ``inputResponses``, ``requestState``); :func:`call_digest` names that call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

__all__ = ["STATE_PREFIX", "TRANSPORT_FIELDS", "sign", "verify", "new_nonce", "call_params", "call_digest"]

STATE_PREFIX = "mcpwrap1."
NONCE_BYTES = 16
TRANSPORT_FIELDS = ("_meta", "inputResponses", "requestState")  # not part of the call a person approves


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, payload: dict) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    mac = hmac.new(key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
    return STATE_PREFIX + body + "." + _b64(mac)


def verify(key: bytes, state: str) -> dict | None:
    """The payload of a state mcpwrap signed with ``key``; None for anything else."""
    rest = state[len(STATE_PREFIX) :]
    body, dot, mac_text = rest.rpartition(".")
    if not dot or not body:
        return None
    try:
        mac = _unb64(mac_text)
        expected = hmac.new(key, (STATE_PREFIX + body).encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


def call_params(params: dict) -> dict:
    """A request's params without the transport fields: what the person approves."""
    return {k: v for k, v in params.items() if k not in TRANSPORT_FIELDS}


def call_digest(method: Any, params: Any) -> str:
    call = call_params(params) if isinstance(params, dict) else params
    return hashlib.sha256(json.dumps([method, call], sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
