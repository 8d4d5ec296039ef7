"""What the person sees: the whole call, made visible, for a form or a terminal; the elicitation form; its answer.

Faithful, not pretty: every argument is shown, whole, as JSON in which every character a person could not see
or that could rearrange the text (control characters, line and paragraph separators, bidirectional overrides,
zero-width and other format characters, non-breaking spaces, lone surrogates) is an escape (:func:`visible`).
Parsing a shown value as JSON gives back the exact value. A summary that had to leave anything out would let a
dangerous tail through unseen, so nothing is ever cut: a call too long for a client's form
(:data:`FORM_MAX_CHARS`, :data:`FORM_MAX_LINES`) cannot be approved in that form — the form says so and offers
only to deny or to approve in a terminal, where ``mcpwrap approve`` shows the whole call (paged). Every
rendering ends with the call's digest, so the person can see that the form and the terminal show one call.
"""

from __future__ import annotations

import json
from typing import Any

from ..._message import Message
from ..._state.approvals import call_of
from .settings import ApprovalRequirement

__all__ = [
    "FORM_MAX_CHARS",
    "FORM_MAX_LINES",
    "TERMINAL_CHOICE",
    "CODE_WARNING",
    "visible",
    "render",
    "printable",
    "short_digest",
    "call_lines",
    "form_fits",
    "subject_of",
    "arguments_of",
    "elicitation_params",
    "elicitation_choice",
    "remember_help",
]

# Clients draw a form in a dialog or a terminal pane and clip what does not fit (Claude Code clipped forms
# taller than the terminal until a fix, and showed nothing for URLs over 4 096 characters). Past these sizes
# the form shows the call's digest and sends the person to the terminal instead.
FORM_MAX_CHARS = 2000  # characters of the rendered call
FORM_MAX_LINES = 30  # lines of the rendered call
SHORT_DIGEST_HEX = 16  # hex digits of the digest shown to people (64 bits: enough to compare two screens)
_NAME_LINE_CHARS = 200  # of the tool line in a form that cannot show the call
TERMINAL_CHOICE = "approve-in-terminal"  # the form's choice that closes it and leaves the call to the terminal
# A steered model may simply ask the person for the code; the person must know where it belongs.
CODE_WARNING = "Type the code only into `mcpwrap approve` in your own terminal; never give it to the assistant or paste it into a chat."


def _escape(c: str) -> str:
    o = ord(c)
    if o > 0xFFFF:  # JSON spells astral characters as a surrogate pair
        o -= 0x10000
        return f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}"
    return f"\\u{o:04x}"


def render(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON a person can read: non-ASCII text as it is, anything invisible as an escape."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=(", ", ": ") if indent is None else (",", ": "))
    # Outside strings json.dumps writes ASCII punctuation, digits, letters, spaces and (indented) newlines only,
    # so every character escaped here is inside a string, where the escape is valid JSON for the same text.
    return "".join(c if c.isprintable() or c == "\n" else _escape(c) for c in text)


def visible(text: str) -> str:
    """A string as a JSON literal with everything invisible escaped (quotes included: unambiguous)."""
    return render(text)


def printable(text: str) -> str:
    """A name as it is when it is plain, else as :func:`visible` (quoted, escaped): a newline, an override or a
    zero-width character in a name could make a form show something other than the call (a forged "Rule:"
    line), and a backslash or quote could imitate an escape."""
    return text if text.isprintable() and '"' not in text and "\\" not in text and text.strip() == text and text else visible(text)


def short_digest(digest: str) -> str:
    algo, _, hexdigest = digest.partition(":")
    return f"{algo}:{hexdigest[:SHORT_DIGEST_HEX]}"


def subject_of(msg: Message) -> str:
    """The thing a call acts on, for people: the tool, prompt or resource."""
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


def _object_lines(obj: dict, indent: str) -> list[str]:
    return [f"{indent}{printable(str(key))}: {render(value)}" for key, value in obj.items()]


def call_lines(call: dict, *, indent: str = "  ") -> list[str]:
    """The whole call (:func:`mcpwrap._state.approvals.call_of`), one line per argument, nothing left out."""
    method, params = call.get("method"), call.get("params")
    if not isinstance(params, dict):
        return [f"Request: {printable(str(method))}", f"Params: {render(params)}"]
    lines: list[str] = []
    rest = dict(params)
    if method == "tools/call":
        lines.append(f"Tool: {printable(str(rest.pop('name', None)))}")
        arguments = rest.pop("arguments", None)
        if isinstance(arguments, dict) and arguments:
            lines += ["Arguments:", *_object_lines(arguments, indent)]
        elif arguments is None or arguments == {}:
            lines.append("Arguments: (none)")
        else:
            lines.append(f"Arguments: {render(arguments)}")
    else:
        lines.append(f"Request: {printable(str(method))}")
    if rest:
        lines += ["Params:" if method != "tools/call" else "Other params:", *_object_lines(rest, indent)]
    return lines


def form_fits(lines: list[str]) -> bool:
    """Whether a client's form can show these lines in full."""
    return len(lines) <= FORM_MAX_LINES and sum(len(line) + 1 for line in lines) <= FORM_MAX_CHARS


def remember_help(choice: str) -> str:
    return {
        "once": "only this call",
        "session": "this exact call (same tool, same arguments) again, until the client disconnects",
        "always": "this exact call (same server, tool and arguments) from now on: an allow rule in policy.overrides.yaml",
    }.get(choice, choice)


def elicitation_params(
    msg: Message,
    req: ApprovalRequirement,
    wait: float,
    digest: str,
    *,
    modern_form: bool,
    terminal: tuple[str, str] | None = None,
    terminal_later: bool = False,
) -> dict:
    """mcpwrap's approval form. ``terminal`` = (approval id, formatted code) when the call also waits in the
    terminal queue; ``terminal_later`` when choosing the terminal starts that wait (stateless: the id and code
    then come in a desktop notification). A call too long for the form cannot be approved in it."""
    session = msg.session
    lines = call_lines(call_of(msg.method, msg.params))
    fits = form_fits(lines)
    if fits:
        head = [f"mcpwrap: approve this call to the MCP server {session.server!r}?", "", *lines]
    else:
        shown = sum(len(line) + 1 for line in lines)
        head = [
            f"mcpwrap: a call to the MCP server {session.server!r} needs your approval, but it is too long to show "
            f"here in full ({shown} characters in {len(lines)} lines; this form shows at most {FORM_MAX_CHARS} in {FORM_MAX_LINES}).",
            "It cannot be approved in this form.",
            "",
            lines[0] if len(lines[0]) <= _NAME_LINE_CHARS else f"{lines[0][:_NAME_LINE_CHARS]}… (cut here: {len(lines[0])} characters)",
        ]
    head.append(f"Call digest: {short_digest(digest)}")
    head += ["", f"Rule: {printable(req.rule)}" + (f" — {printable(req.reason)}" if req.reason else "")]
    head.append(f"The call waits for your decision (up to {int(wait)} s); no answer means {req.on_timeout}.")
    choices = ["deny", "approve"] if fits else ["deny"]
    if terminal is not None:
        approval_id, code = terminal
        verb = "See the whole call and approve it" if not fits else "Or approve it"
        head.append(f"{verb} in a terminal: run `mcpwrap approve {approval_id}` and type the code {code}.")
        head.append(CODE_WARNING)
        choices.append(TERMINAL_CHOICE)
    elif terminal_later:
        head.append(
            f"To see the whole call and approve it in a terminal, choose {TERMINAL_CHOICE}: a desktop notification gives the command "
            "and a one-time code."
        )
        choices.append(TERMINAL_CHOICE)
    schema: dict = {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "Decision",
                "enum": choices,
                "default": "deny",  # a client that fills in defaults by itself denies
                "description": "approve: run this call; deny: refuse it"
                + (f"; {TERMINAL_CHOICE}: close this form, decide in the terminal" if TERMINAL_CHOICE in choices else ""),
            },
        },
        "required": ["decision"],
    }
    if fits and len(req.remember) > 1:
        schema["properties"]["remember"] = {
            "type": "string",
            "title": "Remember",
            "enum": req.remember,
            "default": "once",
            "description": "; ".join(f"{r}: {remember_help(r)}" for r in req.remember),
        }
    params: dict = {"message": "\n".join(head), "requestedSchema": schema}
    if modern_form:
        params["mode"] = "form"
    return params


def elicitation_choice(result: Any, offered: list[str], choices: tuple[str, ...] = ("deny", "approve")) -> tuple[str, str, str]:
    """(decision, remember, what the person did) from an elicitation result; anything unclear is a denial.
    ``decision`` is one of ``choices`` (the form's), else deny."""
    if not isinstance(result, dict):
        return "deny", "once", "invalid answer"
    action = result.get("action")
    if action != "accept":
        return "deny", "once", str(action) if action in ("decline", "cancel") else "invalid answer"
    raw_content = result.get("content")
    content: dict = raw_content if isinstance(raw_content, dict) else {}
    decision = content.get("decision")
    if decision == TERMINAL_CHOICE and decision in choices:
        return TERMINAL_CHOICE, "once", "chose the terminal"
    if decision != "approve" or "approve" not in choices:
        return "deny", "once", "chose deny"
    remember = content.get("remember", "once")
    return "approve", remember if remember in offered else "once", "chose approve"
