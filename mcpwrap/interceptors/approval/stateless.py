"""The stateless channel (2026-07-28): ask with ``input_required``, decide on the client's retry.

A stateless client must not be sent requests, so mcpwrap cannot elicit while it holds a call. Instead:

1. :func:`ask` answers the held call at once with ``resultType: "input_required"``: one input request
   (``INPUT_KEY``, the same form as the elicitation channel) and a ``requestState`` (:mod:`.token`) that holds
   the frozen call, bound to this session, with a one-time nonce and an expiry.
2. The client shows the form and retries with a new id, ``inputResponses`` and the ``requestState``.
   :func:`resume` verifies it — forged, damaged, from another session, for another call, expired or already
   used: refused with the block contract — and holds the retry; on approval the *frozen* call is forwarded
   under the retry's id, without mcpwrap's fields (the client's ``_meta`` is kept).
"""

from __future__ import annotations

import copy
import time

from ..._message import HeldCall, Message, Session, Verdict
from . import form, token
from .memory import SessionMemory
from .settings import INTERCEPTOR_NAME, ApprovalRequirement

__all__ = ["INPUT_KEY", "STATELESS_METHODS", "ask", "resume"]

INPUT_KEY = "mcpwrap.approval"  # the key of mcpwrap's input request in a stateless input_required result
STATELESS_METHODS = ("tools/call", "prompts/get", "resources/read")  # the methods that may be input_required
STATE_VERSION = 1


def ask(held: HeldCall, req: ApprovalRequirement, key: bytes, session: Session) -> None:
    """Answer the held call with ``input_required``: the form, and the signed state of the call."""
    msg: Message = held.msg
    now = time.time()
    payload = {
        "v": STATE_VERSION,
        "nonce": token.new_nonce(),
        "session": session.session_id,
        "issued": now,
        "expires": now + req.timeout,
        "rule": req.rule,
        "reason": req.reason,
        "remember": req.remember,
        "method": msg.method,
        # The call as held, server fields included (a server's own input round is part of the call).
        "params": {k: v for k, v in copy.deepcopy(msg.params if isinstance(msg.params, dict) else {}).items() if k != "_meta"},
    }
    result = {
        "resultType": "input_required",
        "inputRequests": {INPUT_KEY: {"method": "elicitation/create", "params": form.elicitation_params(msg, req, req.timeout, modern_form=True)}},
        "requestState": token.sign(key, payload),
    }
    held.audit("approval", status="requested", channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=req.rule, timeout=req.timeout)
    held.reply({"jsonrpc": "2.0", "id": msg.id, "result": result}, reason="approval asked through input_required")


def _refuse(why: str, status: str = "refused") -> Verdict:
    reason = f"the approval of this retried call is not valid: {why}; the call was not forwarded"
    return Verdict.block(reason, rule="approval-state", details={"approval": status})


def resume(msg: Message, state: str, key: bytes, memory: SessionMemory) -> Verdict:
    """The verdict on a retry that carries mcpwrap's ``requestState``: refused, or held to be decided."""
    payload = token.verify(key, state)
    if payload is None:
        return _refuse("its requestState is forged or damaged")
    if payload.get("session") != memory.session.session_id:
        return _refuse("its requestState belongs to another session")
    params = msg.params if isinstance(msg.params, dict) else {}
    frozen = payload.get("params")
    if payload.get("method") != msg.method or not isinstance(frozen, dict) or token.call_params(frozen) != token.call_params(params):
        return _refuse("the retried call differs from the call that was put to a person")
    expires = payload.get("expires")
    if not isinstance(expires, (int, float)) or expires < time.time():
        return _refuse("the time to approve it has passed", "expired")
    if not isinstance(payload.get("nonce"), str) or not memory.use_nonce(payload["nonce"], float(expires)):
        return _refuse("its requestState was already used")
    responses = params.get("inputResponses")
    answer = responses.get(INPUT_KEY) if isinstance(responses, dict) else None
    offered = payload.get("remember")
    decision, remember, what = form.elicitation_choice(answer, offered if isinstance(offered, list) else ["once"])
    rule = str(payload.get("rule") or "approve")
    forward_params = dict(frozen)
    if isinstance(params.get("_meta"), dict):
        forward_params["_meta"] = params["_meta"]
    forward = {"jsonrpc": "2.0", "id": msg.id, "method": msg.method, "params": forward_params}
    wait_ms = round((time.time() - float(payload.get("issued", time.time()))) * 1000, 3)

    def decide(held: HeldCall) -> None:
        fields = dict(channel="stateless", id=msg.id, method=msg.method, tool=msg.tool_name, rule=rule, wait_ms=wait_ms, choice=what)
        if decision == "approve":
            memory.remember(msg, rule, remember, frozen.get("arguments"), held.audit)
            memory.note_approved(msg, frozen, float(expires) - float(payload.get("issued", 0) or 0))
            held.audit("approval", status="approved", remember=remember, **fields)
            held.release(forward)
        else:
            held.audit("approval", status="denied", **fields)
            held.answer(Verdict.block(form.not_approved_reason(rule), rule=rule, interceptor=INTERCEPTOR_NAME))

    return Verdict.held(decide, reason="answer to an approval request", rule=rule)
