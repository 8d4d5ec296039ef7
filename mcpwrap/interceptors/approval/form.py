"""What the person sees: the call summarised for a form or a terminal, the elicitation form, and its answer.

Names and values come from the model: anything that could make the form show something other than the call
(newlines, bidirectional overrides, invisible characters) is escaped before it is shown.
"""

from __future__ import annotations

import json
from typing import Any

from ..._message import Message
from .settings import ApprovalRequirement

__all__ = ["printable", "show", "summarize_arguments", "elicitation_params", "elicitation_choice", "subject_of", "arguments_of"]

_SUMMARY_VALUE_CHARS = 300
_SUMMARY_TOTAL_CHARS = 2000


def printable(text: str) -> str:
    """``text`` as is when a person can read it safely, else escaped.

    Names and values come from the model: a newline, a bidirectional override or another invisible character
    could make the form or the terminal listing show something other than the call (a forged "Rule:" line).
    """
    return text if text.isprintable() else json.dumps(text)


def show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if text.isprintable() else json.dumps(value)  # ASCII escapes for anything invisible


def subject_of(msg: Message) -> str:
    """The thing a call acts on: the tool, prompt or resource."""
    params = msg.params if isinstance(msg.params, dict) else {}
    if msg.method == "tools/call":
        return printable(str(params.get("name")))
    if msg.method == "prompts/get":
        return f"prompt {printable(str(params.get('name')))}"
    if msg.method == "resources/read":
        return f"resource {printable(str(params.get('uri')))}"
    return printable(str(msg.method))


def arguments_of(msg: Message) -> Any:
    params = msg.params if isinstance(msg.params, dict) else {}
    return params.get("arguments")


def summarize_arguments(arguments: Any) -> str:
    """A readable, bounded rendering of a call's arguments (one line per argument)."""
    if arguments is None:
        return "(no arguments)"
    if not isinstance(arguments, dict):
        text = show(arguments)
        return text[:_SUMMARY_TOTAL_CHARS] + ("…" if len(text) > _SUMMARY_TOTAL_CHARS else "")
    lines: list[str] = []
    total = 0
    for key, value in arguments.items():
        text = show(value)
        if len(text) > _SUMMARY_VALUE_CHARS:
            text = text[:_SUMMARY_VALUE_CHARS] + f"… ({len(text)} characters)"
        line = f"{printable(str(key))}: {text}"
        total += len(line)
        if total > _SUMMARY_TOTAL_CHARS:
            lines.append(f"… and {len(arguments) - len(lines)} more")
            break
        lines.append(line)
    return "\n".join(lines) if lines else "(no arguments)"


def elicitation_params(msg: Message, req: ApprovalRequirement, wait: float, *, modern_form: bool) -> dict:
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
    raw_content = result.get("content")
    content: dict = raw_content if isinstance(raw_content, dict) else {}
    if content.get("decision") != "approve":
        return "deny", "once", "chose deny"
    remember = content.get("remember", "once")
    return "approve", remember if remember in offered else "once", "chose approve"
