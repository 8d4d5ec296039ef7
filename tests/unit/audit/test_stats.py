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
    # a block is not an error: errors are error responses
    assert (health.messages, health.responses, health.errors, health.blocks, health.open_sessions) == (20, 10, 0, 1, {"x"})
    live.feed({"ts": base + "10Z", "event": "session-end", "server": "s", "session": "x"})
    assert not health.open_sessions and live.recent[-1]["event"] == "session-end"
    assert RATE_SECONDS > 1  # a one-second burst does not become the rate


def test_redacted_counts_what_the_secrets_interceptor_removed_from_traffic():
    assert redacted({"changes": [{"interceptor": "secrets", "rule": "secrets-redact", "redacted": {"api-key": 1}}]})
    assert not redacted({"changes": [{"interceptor": "injection", "rule": "sanitize"}]})
    # the log's own redaction of recorded arguments changed nothing that reached the peer
    assert not redacted({"redactions": {"api-key": 1}})


def call(session: str, id_: int, tool: str, kind: str, action: str, **extra) -> dict:
    direction = "c2s" if kind == "request" else "s2c"
    return {"event": "message", "session": session, "server": "s", "id": id_, "method": "tools/call", "tool": tool,
            "kind": kind, "direction": direction, "action": action, **extra}  # fmt: skip


def test_each_call_counts_once_by_its_strongest_action():
    records = [
        call("a", 1, "t", "request", "pass"), call("a", 1, "t", "result", "pass"),
        call("a", 2, "t", "request", "pass"), call("a", 2, "t", "result", "modify"),
        call("a", 3, "t", "request", "pass"), call("a", 3, "t", "result", "block"),
        call("a", 4, "t", "request", "block"),
        call("b", 1, "t", "request", "modify"), call("b", 1, "t", "error", "pass"),  # the same id in another session
    ]  # fmt: skip
    stats = compute_stats(records)
    t = stats["tools"]["t"]
    assert (t["calls"], t["pass"], t["modify"], t["block"]) == (5, 1, 2, 2)
    assert t["pass"] + t["modify"] + t["block"] == t["calls"]
    assert stats["errors"] == 1 and stats["servers"]["s"]["errors"] == 1 and stats["servers"]["s"]["block"] == 2
    assert stats["messages"] == len(records) and stats["tool_calls"] == 5


def test_a_secret_in_content_and_structured_content_is_one_redacted_message():
    change = {"interceptor": "secrets", "rule": "secrets-redact", "redacted": {"aws_access_key": 2, "email": 1},
              "paths": ["$.result.content[0].text", "$.result.structuredContent.key"]}  # fmt: skip
    stats = compute_stats([call("a", 1, "t", "result", "modify", changes=[change])])
    assert stats["redactions"] == {"messages": 1, "types": {"aws_access_key": 1, "email": 1}}
    live = LiveStats()
    live.feed({"ts": "2026-01-01T00:00:00Z", **call("a", 1, "t", "result", "modify", changes=[change])})
    assert live.totals["redactions"] == 1


def test_informational_records_are_records_not_messages():
    records = [{"event": "tool-risk", "tool": f"t{i}", "risk": "read"} for i in range(3)] + [call("a", 1, "t", "request", "pass")]
    stats = compute_stats(records)
    assert stats["records"] == 4 and stats["messages"] == 1 and stats["informational"] == {"tool-risk": 3}
