"""The composition root of the chain: which interceptors it has, in which order, and the policy they read.

Order matters: admission control first (a denied call costs nothing more), definitions' integrity next,
content inspection after, the human-approval hold last (a person is only asked about calls that everything
else would let through), and the audit interceptor always at the very end so that its ``observe`` sees the
final decision. Each interceptor class declares the policy-file sections it owns; :data:`SECTIONS` is their
union, and :func:`load_policy` / :func:`parse_policy` validate a policy file against exactly that.

Everything that builds a chain or reads a policy file goes through this module; the modules below it (the
config loader, the policy engine, the detectors) know nothing of each other's sections.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from .._audit.writer import AuditLog
from .._chain import Chain, ChainContext, Interceptor
from .._config import Config, Section, load_config, parse_config, sections_by_key
from .._message import Session
from .._sandbox.settings import SANDBOX_SECTION
from .approval import ApprovalInterceptor
from .audit import AuditInterceptor
from .injection import InjectionInterceptor
from .integrity import IntegrityInterceptor
from .policy import PolicyInterceptor
from .sandbox import SandboxDenials
from .schema import SchemaInterceptor
from .secrets import SecretsInterceptor

__all__ = ["INTERCEPTORS", "SECTIONS", "InterceptorFactory", "build_chain", "load_policy", "parse_policy"]

InterceptorFactory = Callable[[ChainContext], Interceptor]

INTERCEPTORS: tuple[type[Interceptor], ...] = (
    # admission control (policy rules, tools/list filtering, risk classes, rate limits)
    PolicyInterceptor,
    # tool-definition integrity (poisoning scan, pinning, rug-pull holds)
    IntegrityInterceptor,
    # content: schema validation, secrets/PII, prompt injection
    SchemaInterceptor,
    SecretsInterceptor,
    InjectionInterceptor,
    # human approval (last before audit)
    ApprovalInterceptor,
)

# The concerns whose ``inspect`` only reads the text of a message: the chain skips them for a message with no
# text (mcpwrap._chain.has_no_text; tests/unit/test_chain.py runs them on what that lets past them).
TEXT_READERS = frozenset({SecretsInterceptor.name, InjectionInterceptor.name})

_ALL: tuple[type[Interceptor], ...] = (*INTERCEPTORS, AuditInterceptor)
# The sandbox section is applied when the server is started (mcpwrap/_sandbox/wrap.py), not by an interceptor.
SECTIONS: dict[str, Section] = sections_by_key([*(s for cls in _ALL for s in cls.sections), SANDBOX_SECTION])


def parse_policy(raw: object, *, file: str | None = None, positions: dict | None = None) -> Config:
    """Validate a decoded policy document against the sections of the chain."""
    return parse_config(raw, SECTIONS, file=file, positions=positions)


def load_policy(path: str | os.PathLike | None) -> Config:
    """Load a policy file (None: the built-in default) against the sections of the chain."""
    return load_config(path, SECTIONS)


def build_chain(
    config: Config,
    session: Session,
    audit_log: AuditLog | None = None,
    *,
    extra: Iterable[InterceptorFactory] = (),
    sandbox_denials: Callable[[str, str], None] | None = None,
) -> Chain:
    """One session's chain, configured from ``config``. ``extra`` factories (tests only: see
    :mod:`mcpwrap.testing`) are placed after the others and before audit. ``sandbox_denials`` (the sandbox's
    refusal recogniser, when the server runs in one) gets the text of results, to record refusals a server
    reports only there."""
    classes: list[InterceptorFactory] = [*INTERCEPTORS, *extra]
    names = frozenset(getattr(factory, "name", "") for factory in classes)
    context = ChainContext(session=session, audit=audit_log, installed=names)
    interceptors: list[Interceptor] = [factory(context) for factory in classes]
    if sandbox_denials is not None:
        interceptors.append(SandboxDenials(context, sandbox_denials))
    if audit_log is not None:
        interceptors.append(AuditInterceptor(context, audit_log))
    chain = Chain(interceptors, text_readers=TEXT_READERS)
    chain.configure(config)
    return chain
