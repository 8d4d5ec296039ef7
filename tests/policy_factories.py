"""Small factories for policy tests: compile a policy document, decide one call against it."""

from __future__ import annotations

from mcpwrap._policy.engine import Call, Policy, policy_of
from mcpwrap.interceptors import parse_policy


def make_policy(doc: dict, overrides=()) -> Policy:
    return policy_of(parse_policy(doc), overrides=overrides)


def decide(doc: dict, call: Call, *, server: str = "srv", subject: str = "bob", roles: tuple = ()) -> tuple[str, str, bool]:
    """(action, rule name, decided) of ``call`` under ``doc``."""
    d = make_policy(doc).view(server, subject, roles).decide(call)
    return d.action, d.rule_name, d.decided


DEMO = {
    "version": "v1",
    "mode": "enforce",
    "rules": [
        {"name": "block-dangerous-exec", "action": "deny",
         "match": {"methods": ["tools/call"], "tools": ["exec_command"], "arguments": {"command": ["*rm -rf*", "*sudo*"]}}},
        {"name": "block-sensitive-reads", "action": "deny",
         "match": {"methods": ["tools/call"], "tools": ["read_file"], "arguments": {"path": ["/etc/*", "*.env", "*/.ssh/*"]}}},
        {"name": "default-allow", "action": "allow", "match": {"methods": ["*"]}},
    ],
}
