"""Human approval: a call matching an ``approve`` rule is held until a person decides it.

The policy interceptor decides *whether* a call needs approval; it passes the call with
``msg.notes.approval`` (an :class:`~mcpwrap._message.ApprovalNeed`: rule, reason, timeout, on_timeout,
channels, remember). This interceptor, last before audit, decides *how* a person is asked, and makes sure that
what counts as an answer came from a person — not from the server, the model, or a file a process of the same
user can write (invariant 7):

- ``elicitation`` (the client declared form elicitation): the call is held (HOLD verdict) and mcpwrap sends its
  own ``elicitation/create`` to the client, which shows it to the person: the whole call made visible
  (:mod:`.form`), its digest, the rule and why, and a small form (decision, remember). The answer is routed to
  mcpwrap, never to the server. A call too long for a form cannot be approved in it (deny or the terminal only).
  A decline faster than a person could read the form, or from a client known to drop forms (:mod:`.reach`),
  is not a person's denial: the call falls back to the terminal.
- ``stateless`` (a 2026-07-28 client, which servers must not send requests to): the call is answered at once
  with ``resultType: "input_required"`` carrying the same form as an input request and a ``requestState``
  that holds the frozen call, HMAC-protected with the per-installation key and bound to this session, with a
  one-time nonce and an expiry (:mod:`.token`). The client's retry is verified; on approval mcpwrap forwards
  the *frozen* call under the retry's id, without its own fields. A forged, damaged, replayed, expired or
  altered retry is refused. A server's own ``input_required`` answer to an approved call lets the client's
  retry with exactly that ``requestState`` continue once (:mod:`.memory`).
- ``terminal``: the call is queued under ``$MCPWRAP_HOME/approvals`` (:mod:`mcpwrap._state.approvals`) for
  ``mcpwrap approve`` in a terminal, which shows the whole call and asks for the call's **one-time code**. The
  code lives only in this process's memory and is shown only in the approval form and/or a desktop
  notification (:mod:`.notify`); a decision counts only with a MAC keyed by it (:mod:`.wait`).

Channels are tried in the rule's order; elicitation and terminal listen together while a call is held (the
first decision wins and the other is withdrawn). No channel that reaches a person → the block contract, with a
reason that says how to get one. Nothing the model reads ever carries an approval id, code, state or link:
block reasons name the command and the rule only.

While a call is held, a request that carried a ``progressToken`` gets ``notifications/progress`` every
``progress_interval`` seconds and may wait the rule's whole ``timeout``. A request without one is decided
within ``max_wait_without_progress`` (default 55 s): the TypeScript SDK, which most clients use, fails a
request after 60 s (``DEFAULT_REQUEST_TIMEOUT_MSEC``). At the deadline the rule's ``on_timeout`` applies.

What the person approves is what the server receives: the relay freezes the request's bytes when it is held,
and a release forwards exactly those bytes. ``session`` and ``always`` remember exactly the call that was shown
(``always`` as an ``exact`` rule, :mod:`mcpwrap._policy.exact`).
"""

from .form import elicitation_choice as _elicitation_choice
from .form import elicitation_params as _elicitation_params
from .form import render, visible
from .interceptor import ApprovalInterceptor
from .notify import notify_desktop as _notify_desktop
from .reach import FAST_ANSWER_SECONDS, KNOWN_CLIENTS, form_reach
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
    "FAST_ANSWER_SECONDS",
    "INPUT_KEY",
    "KNOWN_CLIENTS",
    "STATE_PREFIX",
    "ApprovalInterceptor",
    "ApprovalRequirement",
    "ApprovalSettings",
    "form_reach",
    "render",
    "visible",
    "_elicitation_choice",
    "_elicitation_params",
    "_notify_desktop",
]
