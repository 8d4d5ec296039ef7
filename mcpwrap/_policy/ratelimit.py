"""Rate limits: token buckets per (subject, server, limit), quotas, and a cap on calls in flight.

::

    rate_limits:
      - name: exec                 # required, unique; buckets are kept per (subject, server, name)
        tools: ["exec_*", "run_*"] # globs (case-insensitive); absent: any tool, or no tool
        methods: ["tools/call"]    # default; other requests can be limited too
        per_second: 0.5            # refill rate of the bucket …
        burst: 3                   # … and its size (default: max(1, per_second))
        per_minute: 20             # quotas, as buckets that refill over a minute / an hour
        per_hour: 200
        concurrent: 1              # tools/call requests forwarded and not yet answered
        mode: enforce | audit      # default: the file's mode

Every limit that matches a request applies; a request passes only if all of them have room, and only then
are tokens taken (a refused request takes none). Buckets live in a :class:`SessionState` that the policy
interceptor owns for its whole life and keeps when it is reconfigured with a new policy (a bucket whose limit
changed is clamped to its new size).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._config import Section, check_keys, expect
from .._errors import ConfigError
from .terms import MODES, NameSet, one_of, str_list

__all__ = ["RateLimit", "Bucket", "SessionState", "check", "CONCURRENCY_RETRY_HINT"]

CONCURRENCY_RETRY_HINT = 1.0  # seconds suggested to a caller refused by the in-flight cap (no refill to compute)
_KEYS = {"name", "tools", "methods", "servers", "subjects", "roles", "per_second", "burst", "per_minute", "per_hour", "concurrent", "mode"}


@dataclass(frozen=True)
class RateLimit:
    name: str
    tools: tuple[str, ...] | None = None
    methods: tuple[str, ...] = ("tools/call",)
    servers: tuple[str, ...] | None = None
    subjects: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    per_second: float | None = None
    burst: float | None = None
    per_minute: float | None = None
    per_hour: float | None = None
    concurrent: int | None = None
    mode: str | None = None
    _matchers: dict = field(default_factory=dict, compare=False, repr=False)

    def buckets(self) -> list[tuple[str, float, float]]:
        """(kind, capacity, refill per second) of each bucket this limit keeps."""
        out = []
        if self.per_second is not None:
            out.append(("per_second", self.burst if self.burst is not None else max(1.0, self.per_second), self.per_second))
        if self.per_minute is not None:
            out.append(("per_minute", self.per_minute, self.per_minute / 60.0))
        if self.per_hour is not None:
            out.append(("per_hour", self.per_hour, self.per_hour / 3600.0))
        return out

    def applies(self, method: str, tool: str | None, server: str, subject: str, roles: tuple) -> bool:
        m = self._matchers
        if not m:
            m["methods"] = NameSet(list(self.methods), True)
            m["tools"] = NameSet(list(self.tools), True) if self.tools is not None else None
            m["servers"] = NameSet(list(self.servers), False) if self.servers is not None else None
            m["subjects"] = NameSet(list(self.subjects), False) if self.subjects is not None else None
            m["roles"] = NameSet(list(self.roles), False) if self.roles is not None else None
        if not m["methods"](method):
            return False
        if m["tools"] is not None and not m["tools"](tool):
            return False
        if m["servers"] is not None and not m["servers"](server):
            return False
        if m["subjects"] is not None and not m["subjects"](subject):
            return False
        if m["roles"] is not None and not any(m["roles"](r) for r in roles):
            return False
        return True

    def describe(self) -> str:
        parts = []
        if self.per_second is not None:
            parts.append(f"{self.per_second:g}/s burst {self.buckets()[0][1]:g}")
        if self.per_minute is not None:
            parts.append(f"{self.per_minute:g}/min")
        if self.per_hour is not None:
            parts.append(f"{self.per_hour:g}/h")
        if self.concurrent is not None:
            parts.append(f"{self.concurrent} in flight")
        scope = ",".join(self.tools) if self.tools else "any tool"
        return f"{self.name}: {' + '.join(parts)} ({scope})"


def _number(raw: Any, path: tuple, *, integer: bool = False) -> float:
    value = expect(raw, int if integer else (int, float), path, "whole number" if integer else "number")
    if value <= 0:
        raise ConfigError("must be greater than 0", path=path)
    return value


def parse_rate_limits(raw: Any, path: tuple) -> tuple[RateLimit, ...]:
    expect(raw, list, path, "list of rate limits")
    out: list[RateLimit] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p = path + (i,)
        expect(item, dict, p, "mapping (a rate limit)")
        check_keys(item, _KEYS, p)
        if "name" not in item:
            raise ConfigError("a rate limit needs a name", path=p)
        name = str(expect(item["name"], (str, int), p + ("name",), "string"))
        if name in seen:
            raise ConfigError(f"duplicate rate limit name {name!r}", path=p + ("name",))
        seen.add(name)
        kw: dict[str, Any] = {"name": name}
        for key in ("tools", "methods", "servers", "subjects", "roles"):
            if key in item:
                kw[key] = tuple(str_list(item[key], p + (key,)))
        for key in ("per_second", "burst", "per_minute", "per_hour"):
            if key in item:
                kw[key] = float(_number(item[key], p + (key,)))
        if "concurrent" in item:
            kw["concurrent"] = int(_number(item["concurrent"], p + ("concurrent",), integer=True))
        if "mode" in item:
            kw["mode"] = one_of(item["mode"], MODES, p + ("mode",))
        if "burst" in kw and "per_second" not in kw:
            raise ConfigError("burst needs per_second", path=p + ("burst",))
        if not any(k in kw for k in ("per_second", "per_minute", "per_hour", "concurrent")):
            raise ConfigError("a rate limit needs per_second, per_minute, per_hour or concurrent", path=p)
        out.append(RateLimit(**kw))
    return tuple(out)


class Bucket:
    __slots__ = ("capacity", "rate", "tokens", "stamp")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def reshape(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens = min(self.tokens, capacity)

    def wait_for_one(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


class SessionState:
    """What must outlive a policy: buckets, calls in flight, risk classes already recorded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.clock = clock
        self.buckets: dict[tuple, Bucket] = {}
        self.inflight: dict[str, set] = {}  # limit name → ids of forwarded tools/call requests
        self.risk_logged: dict[str, str] = {}  # tool → class recorded in the audit log


def check(
    state: SessionState, limits: list[RateLimit], subject: str, server: str, *, take: bool = True
) -> tuple[RateLimit, str, float] | None:
    """None if every limit has room (tokens are then taken), else (limit, what, retry_after) of the first
    that has none."""
    with state.lock:
        now = state.clock()
        refused = None
        touched: list[Bucket] = []
        for limit in limits:
            if limit.concurrent is not None and len(state.inflight.get(limit.name, ())) >= limit.concurrent:
                refused = refused or (limit, f"{limit.concurrent} calls in flight", CONCURRENCY_RETRY_HINT)
            for kind, capacity, rate in limit.buckets():
                key = (subject, server, limit.name, kind)
                b = state.buckets.get(key)
                if b is None:
                    b = state.buckets[key] = Bucket(capacity, rate, now)
                elif b.capacity != capacity or b.rate != rate:
                    b.reshape(capacity, rate)
                b.refill(now)
                if b.tokens < 1.0:
                    wait = b.wait_for_one()
                    if refused is None or wait > refused[2]:
                        refused = (limit, kind.replace("_", " "), wait)
                touched.append(b)
        if refused is not None:
            return refused
        if take:
            for b in touched:
                b.tokens -= 1.0
        return None


# The policy-file sections this module owns (declared by the interceptor that uses them).
RATE_LIMITS_SECTION = Section("rate_limits", parse_rate_limits, default=tuple, doc="token buckets, quotas and in-flight caps per subject/server/tool glob")
