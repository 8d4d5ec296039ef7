"""Human approval: a call matching an ``approve`` rule is held until a person decides it.

The policy interceptor decides *whether* a call needs approval; it passes the call with
``msg.notes.approval`` (an :class:`~mcpwrap._message.ApprovalNeed`: rule, reason, timeout, on_timeout,
channels, remember). This interceptor, last before audit, decides *how* a person is asked:

- ``elicitation`` (the client declared the capability at ``initialize``): the call is held (HOLD verdict)
  and mcpwrap sends its own ``elicitation/create`` to the client — server, tool, the arguments, the rule and
  why, and a small form (decision, remember). The client's answer is routed to mcpwrap, never to the server.
- ``stateless`` (a 2026-07-28 client, which servers must not send requests to): the call is answered at once
  with ``resultType: "input_required"`` carrying the same form as an input request and a ``requestState``
  that holds the frozen call, HMAC-protected with the per-installation key and bound to this session, with a
  one-time nonce and an expiry. The client's retry (new id, ``inputResponses`` + ``requestState``) is
  verified; on approval mcpwrap forwards the *frozen* call under the retry's id, without its own fields. A
  forged, damaged, replayed, expired or altered retry is refused.
- ``terminal``: the call is queued under ``$MCPWRAP_HOME/approvals`` (:mod:`mcpwrap._state.approvals`) for
  ``mcpwrap approvals`` / ``approve`` / ``deny`` in another terminal; optionally a desktop notification.

Channels are tried in the rule's order; elicitation and terminal listen together while a call is held (the
first decision wins and the other is withdrawn). No available channel → the block contract, with a reason that
says how to approve. Nothing the model reads ever carries an approval id, state or link: block reasons name
the command and the rule only.

While a call is held, a request that carried a ``progressToken`` gets ``notifications/progress`` every
``progress_interval`` seconds and may wait the rule's whole ``timeout``. A request without one is decided
within ``max_wait_without_progress`` (default 55 s): the TypeScript SDK, which most clients use, fails a
request after 60 s (``DEFAULT_REQUEST_TIMEOUT_MSEC``). At the deadline the rule's ``on_timeout`` applies.

What the person approves is what the server receives: the relay freezes the request's bytes when it is held,
and a release forwards exactly those bytes.
"""

from .form import elicitation_choice as _elicitation_choice
from .form import elicitation_params as _elicitation_params
from .form import summarize_arguments
from .interceptor import ApprovalInterceptor
from .notify import notify_desktop as _notify_desktop
from .settings import (
    APPROVAL_SECTION,
    DEFAULT_MAX_WAIT_WITHOUT_PROGRESS,
    INPUT_KEY,
    ApprovalRequirement,
    ApprovalSettings,
)
from .token import STATE_PREFIX

__all__ = [
    "APPROVAL_SECTION",
    "DEFAULT_MAX_WAIT_WITHOUT_PROGRESS",
    "INPUT_KEY",
    "STATE_PREFIX",
    "ApprovalInterceptor",
    "ApprovalRequirement",
    "ApprovalSettings",
    "summarize_arguments",
    "_elicitation_choice",
    "_elicitation_params",
    "_notify_desktop",
]
