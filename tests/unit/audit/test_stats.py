"""Statistics over audit records: totals and percentiles, and the dashboard's rolling window."""

from __future__ import annotations

from mcpwrap._audit.stats import RATE_SECONDS, LiveStats, compute_stats, redacted


def test_compute_stats_percentiles_nearest_rank():
    recs = [{"event": "message", "tool": "t", "latency_ms": float(v), "kind": "result", "action": "pass"} for v in range(1, 101)]
    lat = compute_stats(recs)["tools"]["t"]["latency_ms"]
    assert (lat["p50"], lat["p95"], lat["p99"]) == (50.0, 95.0, 99.0)


def test_live_stats_rates_latency_and_server_health():
    live = LiveStats()
    base = "2026-01-01T00:00:"
    live.feed({"ts": base + "00Z", "event": "session-start", "server": "s", "session": "x"})
    for sec in range(10):
        live.feed({"ts": f"{base}{sec:02d}.1Z", "event": "message", "server": "s", "kind": "request", "method": "tools/call", "action": "pass"})
        live.feed({"ts": f"{base}{sec:02d}.2Z", "event": "message", "server": "s", "kind": "result", "method": "tools/call",
                   "action": "block" if sec == 9 else "pass", "latency_ms": float(sec)})
    now = int(live.latest)  # second 9
    assert live.rate(live.messages, now) == 2.0 and live.rate(live.calls, now) == 1.0
    assert live.series(live.calls, now + 1, 3) == [1.0, 1.0, 0.0]
    assert live.latency_series(now, 2) == [8.0, 9.0]
    health = live.servers["s"]
    assert (health.messages, health.responses, health.errors, health.blocks, health.open_sessions) == (20, 10, 1, 1, {"x"})
    live.feed({"ts": base + "10Z", "event": "session-end", "server": "s", "session": "x"})
    assert not health.open_sessions and live.recent[-1]["event"] == "session-end"
    assert RATE_SECONDS > 1  # a one-second burst does not become the rate


def test_redacted_counts_a_secrets_change_or_redacted_arguments():
    assert redacted({"redactions": {"api-key": 1}})
    assert redacted({"changes": [{"interceptor": "secrets", "rule": "redact-secrets"}]})
    assert not redacted({"changes": [{"interceptor": "injection", "rule": "sanitize"}]})
