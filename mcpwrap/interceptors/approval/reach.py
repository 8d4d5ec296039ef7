"""Whether a client's approval form reaches a person: its capabilities, a small table of what clients are known
to do with forms, and the speed of an answer.

A client that declares ``elicitation`` may still never show mcpwrap's form to anyone: some builds decline every
form at once, some leave it unanswered until the request times out. A decline that no person saw must not be
recorded as a person's denial, and an approval must still reach the person. So:

- :func:`form_reach` classes the client: ``shown`` (declares form elicitation, not known to drop forms),
  ``unreliable`` (declares it, but is known to decline or drop forms in some of its modes — all of which call
  themselves by one name, so mcpwrap cannot tell which one it talks to), or ``none`` (no form elicitation).
- For an ``unreliable`` client the form is sent *and* the one-time code for ``mcpwrap approve`` goes out by
  desktop notification at once, so a person is reached whichever mode runs.
- For every client, a decline or cancel faster than :data:`FAST_ANSWER_SECONDS` is taken as "not shown": the
  call falls back to the terminal channel (with a notification) instead of being denied.

The table (by ``clientInfo.name``, with the versions and sources it is based on):

=================== ============ ====================================================================
client name         form         why
=================== ============ ====================================================================
``claude-code``     unreliable   Claude Code declares form elicitation since 2.1.76. Its terminal UI shows
                                 forms (one 2.1.x regression auto-declined them there too, anthropics/claude-code#62319);
                                 its print/SDK mode and its VS Code extension decline without showing them
                                 (anthropics/claude-code#41292); the copy embedded in Claude Desktop never renders
                                 them and the request times out after 60 s (anthropics/claude-code#88901).
``claude-ai``       none         Claude Desktop declares no elicitation capability.
anything else       by its capabilities, with the fast-decline check
=================== ============ ====================================================================
"""

from __future__ import annotations

from ..._message import Session

__all__ = ["FAST_ANSWER_SECONDS", "SHOWN", "UNRELIABLE", "NONE", "KNOWN_CLIENTS", "form_reach", "client_label"]

# A person needs longer than this to read a form and decide; a client that declines faster did not show it.
FAST_ANSWER_SECONDS = 1.0

SHOWN, UNRELIABLE, NONE = "shown", "unreliable", "none"

KNOWN_CLIENTS: dict[str, tuple[str, str]] = {
    "claude-code": (
        UNRELIABLE,
        "Claude Code declares approval forms, but its print/SDK mode, its VS Code extension and its copy inside Claude "
        "Desktop decline or drop them without showing them, and all call themselves claude-code",
    ),
}


def client_label(session: Session) -> str:
    info = session.client_info if isinstance(session.client_info, dict) else {}
    name, version = info.get("name"), info.get("version")
    if not isinstance(name, str) or not name:
        return "the client"
    return f"{name} {version}" if isinstance(version, str) and version else name


def _declares_form(session: Session) -> bool:
    caps = session.client_capabilities
    cap = caps.get("elicitation") if isinstance(caps, dict) else None
    if not isinstance(cap, dict):
        return False
    return "form" in cap or "url" not in cap  # an empty object means form mode (2025-06-18)


def form_reach(session: Session) -> tuple[str, str]:
    """(``shown`` | ``unreliable`` | ``none``, why) for this session's client."""
    if not _declares_form(session):
        return NONE, f"{client_label(session)} declares no approval forms (form elicitation)"
    info = session.client_info if isinstance(session.client_info, dict) else {}
    name = info.get("name")
    known = KNOWN_CLIENTS.get(name) if isinstance(name, str) else None
    if known is not None:
        return known
    return SHOWN, f"{client_label(session)} declares approval forms"
