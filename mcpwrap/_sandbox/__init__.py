"""The kernel sandbox of the wrapped server (issue: a hostile server must not go around mcpwrap).

A server mcpwrap wraps runs as the same user, and without a sandbox it could skip every interceptor: write to
the client through ``/proc/<pid>/fd``, read the audit key and re-seal the log, edit the policy, read
``~/.ssh`` and send it out, rewrite ``~/.claude.json`` to unwrap itself. This package closes that with what
an unprivileged Linux process can use, on by default:

    settings.py     the ``sandbox:`` policy section (per-server overrides)
    plan.py         prepare(): the plan for one server — environment, rules, namespaces, proxy — and its report
    profile.py      the default profile (what a server may read/write) and how it becomes Landlock rules
    launch.py       the processes between mcpwrap and the server (who is PID 1, exit status, signals)
    landlock.py     Landlock rulesets (files; TCP ports; signal and abstract-socket scopes)
    namespaces.py   user, PID, mount and network namespaces; capabilities
    seccomp.py      the small syscall filter (unix-socket connect, keyrings, io_uring)
    proxy.py        the filtering HTTP/SOCKS proxy for ``network: {hosts: [...]}``
    denials.py      the server's stderr through mcpwrap, and refusals recognised in it
    probe.py        what the running kernel supports (``mcpwrap sandbox check``)

The threat model, the mechanisms and their limits are in docs/sandbox.md.
"""

from __future__ import annotations

from .plan import ENV_PREFIX, SandboxPlan, SandboxReport, SandboxUnavailable, prepare, scrub_environment
from .settings import SANDBOX_SECTION, SandboxSettings, ServerSandbox, parse_sandbox

__all__ = [
    "prepare",
    "SandboxPlan",
    "SandboxReport",
    "SandboxUnavailable",
    "SandboxSettings",
    "ServerSandbox",
    "parse_sandbox",
    "SANDBOX_SECTION",
    "scrub_environment",
    "ENV_PREFIX",
]
