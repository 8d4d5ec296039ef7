"""Admission control: what a policy file says, and the one function that decides.

Modules, lowest first (each imports only those above it in this list)::

    normalize   readings of values: Unicode text, paths, globs
    risk        risk classes of tools (read, write, external, destructive, execute)
    terms       modes, actions, directions, name lists, name globs (NameSet)
    readings    how a rule reads a call's arguments; Unknown arguments and MAYBE
    exact       the exact-call condition: literal names and the canonical digest of the arguments
    rules       Rule, argument conditions, approve options, parse_rules
    batch       many conditions on one argument matched with one RE2 set
    sections    the admission-control sections of the policy file
    ratelimit   the rate_limits section: token buckets, quotas, calls in flight
    engine      Policy, PolicyView.decide, Call, Decision
    check       what `policy validate | test | --replay` compute

The overrides store (rules a person decided, evaluated first) is :mod:`mcpwrap._state.overrides`; it reads
and writes rules with :mod:`.rules` and :mod:`.sections`, and :mod:`.check` and the policy interceptor
(:mod:`mcpwrap.interceptors.policy`) read it, so it sits between those two groups.
"""
