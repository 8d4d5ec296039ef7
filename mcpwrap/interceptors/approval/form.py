"""What a person is shown about a held call, what their answer means, and what the client is told.

One rendering serves every channel: the elicitation form (``elicitation/create`` params, also carried by a
stateless ``input_required`` result) and the terminal queue entry that ``mcpwrap approvals`` lists.

Invariants
- Names and values come from the model. Anything a person reads is printable: a newline, a bidirectional
  override or another invisible character is shown escaped, so it cannot forge a line of the form (a second
  "Rule:") or hide part of a name.
- Summaries are bounded (``SUMMARY_VALUE_CHARS`` per argument, ``SUMMARY_TOTAL_CHARS`` in all).
- An answer that is not a clear approval is a denial, and a ``remember`` choice that was not offered is
  ``once``.
- What the client (and so the model) is told names the command and the rule, never an approval id or state.
"""

from __future__ import annotations

import json
from typing import Any

from ..._message import Message
from .settings import ApprovalRequirement

__all__ = [
    "SUMMARY_VALUE_CHARS",
    "SUMMARY_TOTAL_CHARS",
    "subject_of",
    "arguments_of",
    "summarize_arguments",
    "elicitation_params",
    "elicitation_choice",
    "queue_entry",
    "no_channel_reason",
    "not_approved_reason",
    "timed_out_reason",
]

SUMMARY_VALUE_CHARS = 300  # one argument's rendering, before it is cut
SUMMARY_TOTAL_CHARS = 2000  # all arguments together


def _printable(text: str) -> str:
    """``text`` as is when a person can read it safely, else escaped.

    Names and values come from the model: a newline, a bidirectional override or another invisible character
    could make the form or the terminal listing show something other than the call (a forged "Rule:" line).
    """
    return text if text.isprintable() else json.dumps(text)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if text.isprintable() else json.dumps(value)  # ASCII escapes for anything invisible


def subject_of(msg: Message) -> str:
    """The thing a call acts on: the tool, prompt or resource."""
    params = msg.params if isinstance(msg.params, dict) else {}
    if msg.method == "tools/call":
        return _printable(str(params.get("name")))
    if msg.method == "prompts/get":
        return f"prompt {_printable(str(params.get('name')))}"
    if msg.method == "resources/read":
        return f"resource {_printable(str(params.get('uri')))}"
    return _printable(str(msg.method))


def arguments_of(msg: Message) -> Any:
    params = msg.params if isinstance(msg.params, dict) else {}
    return params.get("arguments")


def summarize_arguments(arguments: Any) -> str:
    """A readable, bounded rendering of a call's arguments (one line per argument)."""
    if arguments is None:
        return "(no arguments)"
    if not isinstance(arguments, dict):
        text = _show(arguments)
        return text[:SUMMARY_TOTAL_CHARS] + ("…" if len(text) > SUMMARY_TOTAL_CHARS else "")
    lines: list[str] = []
    total = 0
    for key, value in arguments.items():
        text = _show(value)
        if len(text) > SUMMARY_VALUE_CHARS:
            text = text[:SUMMARY_VALUE_CHARS] + f"… ({len(text)} characters)"
        line = f"{_printable(str(key))}: {text}"
        total += len(line)
        if total > SUMMARY_TOTAL_CHARS:
            lines.append(f"… and {len(arguments) - len(lines)} more")
            break
        lines.append(line)
    return "\n".join(lines) if lines else "(no arguments)"


def elicitation_params(msg: Message, req: ApprovalRequirement, wait: float, *, modern_form: bool) -> dict:
    """The ``elicitation/create`` params that put ``msg`` to a person (``modern_form``: 2025-11-25 ``mode``)."""
    session = msg.session
    lines = [
        f"mcpwrap: approve this call to the MCP server {session.server!r}?",
        "",
        f"{'Tool' if msg.method == 'tools/call' else 'Request'}: {subject_of(msg)}",
    ]
    if msg.method == "tools/call":
        lines += ["Arguments:", *("  " + line for line in summarize_arguments(arguments_of(msg)).splitlines())]
    lines += ["", f"Rule: {req.rule}" + (f" — {req.reason}" if req.reason else "")]
    lines.append(f"The call waits for your decision (up to {int(wait)} s); no answer means {req.on_timeout}.")
    schema: dict = {
        "type": "object",
        "properties": {
            "decision": {"type": "string", "title": "Decision", "enum": ["approve", "deny"], "description": "Run this call, or refuse it"},
        },
        "required": ["decision"],
    }
    if len(req.remember) > 1:
        schema["properties"]["remember"] = {
            "type": "string",
            "title": "Remember",
            "enum": req.remember,
            "default": "once",
            "description": "once: only this call; session: this tool until the client disconnects; "
            "always: this tool with exactly these arguments, from now on",
        }
    params: dict = {"message": "\n".join(lines), "requestedSchema": schema}
    if modern_form:
        params["mode"] = "form"
    return params


def elicitation_choice(result: Any, offered: list[str]) -> tuple[str, str, str]:
    """(decision, remember, what the person did) from an elicitation result; anything unclear is a denial."""
    if not isinstance(result, dict):
        return "deny", "once", "invalid answer"
    action = result.get("action")
    if action != "accept":
        return "deny", "once", str(action) if action in ("decline", "cancel") else "invalid answer"
    content = result.get("content")
    if not isinstance(content, dict):
        content = {}
    if content.get("decision") != "approve":
        return "deny", "once", "chose deny"
    remember = content.get("remember", "once")
    return "approve", remember if remember in offered else "once", "chose approve"


def queue_entry(msg: Message, req: ApprovalRequirement, wait: float, digest: str, now: float) -> dict:
    """The terminal queue's entry for a held call: what `mcpwrap approvals` shows and `approve` decides."""
    s = msg.session
    return {
        "created_ts": now,
        "expires_ts": now + wait,
        "session": s.session_id,
        "server": s.server,
        "subject": s.subject,
        "client": s.client_info.get("name") if isinstance(s.client_info, dict) else None,
        "method": msg.method,
        "tool": subject_of(msg),
        "arguments": summarize_arguments(arguments_of(msg)) if msg.method == "tools/call" else None,
        "rule": req.rule,
        "reason": req.reason,
        "on_timeout": req.on_timeout,
        "remember": req.remember,
        "digest": digest,
    }


# --- what the client is told (the block contract's reason) -------------------------------------------------


def no_channel_reason(req: ApprovalRequirement) -> str:
    wanted = ", ".join(req.channels)
    return (
        f"this call needs a person's approval (rule {req.rule}), but none of the rule's approval channels "
        f"({wanted}) is available: the client cannot show an approval form. Add `terminal` to the rule's "
        "channels and approve from a terminal with `mcpwrap approvals` and `mcpwrap approve`, or allow this "
        "call with a policy rule."
    )


def not_approved_reason(rule: str) -> str:
    return f"a person did not approve this call (rule {rule})"


def timed_out_reason(rule: str, wait: float) -> str:
    return (
        f"no one approved this call within {wait:g} s (rule {rule} requires a person's approval). "
        "A person can approve calls like this from a terminal with `mcpwrap approvals` while the call waits, "
        "or allow them with a policy rule."
    )
