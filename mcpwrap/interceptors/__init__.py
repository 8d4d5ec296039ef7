"""The interceptors, and the order the chain runs them in.

Each entry names a module with a ``build(config, session)`` function returning an interceptor, or None when
the policy turns that concern off. Order matters: admission control first (a denied call costs nothing
more), content inspection next, the human-approval hold last (a person is only asked about calls that
everything else would let through), and the audit interceptor always at the very end so its ``observe`` sees
the final decision.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from .._chain import Chain, Interceptor

if TYPE_CHECKING:
    from .._audit.writer import AuditLog
    from .._config import Config
    from .._message import Session

__all__ = ["FACTORIES", "build_chain", "EXTRA_INTERCEPTORS_ENV"]

FACTORIES: list[str] = [
    # admission control (policy rules, tools/list filtering, risk classes, rate limits)
    "mcpwrap.interceptors.policy",

    # tool-definition integrity (poisoning scan, pinning, rug-pull holds)
    "mcpwrap.interceptors.integrity",

    # content: schema validation, secrets/PII, prompt injection
    "mcpwrap.interceptors.schema",
    "mcpwrap.interceptors.secrets",
    "mcpwrap.interceptors.injection",

    # human approval (last before audit)
    "mcpwrap.interceptors.approval",

]

# Developer hook: extra interceptors ("module:factory", comma-separated) appended before audit. Used by the
# test suite to drive faults through the real process; factories receive (config, session).
EXTRA_INTERCEPTORS_ENV = "MCPWRAP_EXTRA_INTERCEPTORS"


def _load(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr or "build")


def build_chain(config: "Config", session: "Session", audit_log: "AuditLog | None" = None) -> Chain:
    interceptors: list[Interceptor] = []
    for target in FACTORIES:
        factory = _load(target + ":build")
        # A factory marked ``wants_audit`` also receives the audit log (e.g. to record tool risk classes).
        icpt = factory(config, session, audit_log) if getattr(factory, "wants_audit", False) else factory(config, session)
        if icpt is not None:
            interceptors.append(icpt)
    for target in filter(None, (t.strip() for t in os.environ.get(EXTRA_INTERCEPTORS_ENV, "").split(","))):
        icpt = _load(target)(config, session)
        if icpt is not None:
            interceptors.append(icpt)
    if audit_log is not None:
        from .._audit.writer import AuditInterceptor

        interceptors.append(AuditInterceptor(audit_log, config["audit"]))
    return Chain(interceptors)
