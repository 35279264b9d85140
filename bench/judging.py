"""The issues' targets (7, and the figures issues 3 and 6 asked for), judged from a run's medians."""

from __future__ import annotations

from bench.plan import Plan
from bench.results import Results, ratio

Check = tuple[str, bool, str]


def _fanout(results: Results) -> list[Check]:
    med = results.median
    ours, bare, node = (med("fanout.5000.rate", t) for t in ("ours", "python-socketio", "node"))
    checks: list[Check] = []
    r_bare, r_node = ratio(ours, bare), ratio(ours, node)
    if r_bare is not None:
        checks.append(("fan-out to 5,000: ≥ 5× bare python-socketio", r_bare >= 5, f"{r_bare:.2f}×"))
    if r_node is not None:
        checks.append(("fan-out to 5,000: ≥ 0.5× Node socket.io", r_node >= 0.5, f"{r_node:.2f}×"))
    return checks


def _ten_thousand(results: Results) -> list[Check]:
    med = results.median
    checks: list[Check] = []
    ours_kb, node_kb = med("memory.10000", "ours"), med("memory.10000", "node")
    if ours_kb is not None and node_kb is not None:
        detail = f"{ours_kb:.1f} vs {node_kb:.1f} KB"
        checks.append(("memory per idle connection at 10,000 ≤ Node", ours_kb <= node_kb, detail))
    lost = med("fanout.10000.lost", "ours")
    if lost is not None:
        checks.append(("10,000 clients in one room, zero loss", lost == 0, f"{lost:.0f} lost"))
    stall = med("connects.disconnect_lag_ms", "ours")
    if stall is not None:
        detail = f"longest stall {stall:,.0f} ms"
        checks.append(("mass disconnect of 10,000: no event-loop stall over 100 ms", stall <= 100, detail))
    return checks


def _others(results: Results, plan: Plan) -> list[Check]:
    med = results.median
    checks: list[Check] = []
    p99 = med("latency.p99", "ours")
    if p99 is not None and plan.latency_clients == 1000 and plan.latency_rate == 20:
        checks.append(("1,000 clients at 20 events/s: p99 < 50 ms", p99 < 50, f"{p99:.1f} ms"))
    rate = med("connects.rate", "ours")
    if rate is not None:
        checks.append(("≥ 2,000 authenticated connects/s", rate >= 2000, f"{rate:,.0f}/s"))
    clients, lost = med("scale.clients", "ours"), med("scale.lost", "ours")
    if clients is not None and lost is not None and plan.scale_clients >= 20_000:
        detail = f"{clients:,.0f} clients, {lost:.0f} events lost"
        checks.append(("20,000 across two processes behind Redis, zero loss", lost == 0, detail))
    redis_p99 = med("redis.p99", "ours")
    if redis_p99 is not None:
        detail = f"{redis_p99:.1f} ms over {plan.redis_events():,} events"
        checks.append(("issue 3: cross-instance p99 < 25 ms", redis_p99 < 25, detail))
    flooded_max, flooded_failed = med("flood.flooded_max", "ours"), med("flood.flooded_failed", "ours")
    if flooded_max is not None and flooded_failed is not None:
        detail = f"max {flooded_max:,.0f} ms, {flooded_failed:.0f} failed"
        ok = flooded_max < 1000 and flooded_failed == 0
        checks.append(("issue 12: during a one-address flood, every honest connect within 1 s", ok, detail))
    for mode in ("memory", "redis"):
        slower = med(f"history.{mode}.slower_pct", "ours")
        if slower is not None:
            checks.append((f"issue 6: history on < 15 % slower ({mode})", slower < 15, f"{slower:.1f} %"))
    return checks


# What a slow reader may add to RSS: MAX_QUEUED_BYTES (default 1 MiB) plus "a few MB" (issue 12).
SLOW_RSS_MB = 1 + 4


def _slow(results: Results, plan: Plan) -> list[Check]:
    med = results.median
    checks: list[Check] = []
    if "slow.streamed_mb" not in results.values or med("slow.streamed_mb", "ours") is None:
        return checks
    closed = med("slow.closed_s", "ours")
    detail = f"after {closed:.1f} s" if closed is not None else "not closed"
    checks.append(("issue 12: the client that stops reading is closed", closed is not None, detail))
    extra = med("slow.rss_extra_mb", "ours")
    if extra is not None:
        checks.append((f"issue 12: it adds at most {SLOW_RSS_MB} MB of RSS", extra <= SLOW_RSS_MB,
                       f"{extra:+.1f} MB"))  # fmt: skip
    change = med("slow.p99_change_pct", "ours")
    if change is not None and plan.slow_clients >= 1000:
        checks.append(("issue 12: the others' p99 within 10 % of the run without it", change <= 10,
                       f"{change:+.1f} %"))  # fmt: skip
    return checks


def _event_cost(results: Results) -> list[Check]:
    """Issue 18: the cost of one event."""
    med = results.median
    checks: list[Check] = []
    single = ratio(med("single.rate", "ours"), med("single.rate", "node"))
    if single is not None:
        checks.append(("issue 18: events/s to one client ≥ 0.75× Node", single >= 0.75, f"{single:.2f}×"))
    small = ratio(med("publish.100.rate", "ours"), med("publish.100.rate", "node"))
    if small is not None:
        checks.append(("issue 18: deliveries/s to 100 clients ≥ Node", small >= 1, f"{small:.2f}×"))
    ours_s, node_s = med("publish.paced.send_s", "ours"), med("publish.paced.send_s", "node")
    behind = med("publish.paced.behind_pct", "ours")
    if ours_s is not None and node_s is not None and behind is not None:
        ok = ours_s <= node_s * 1.01 and behind <= 2
        detail = f"{ours_s:.2f} s vs Node {node_s:.2f} s, {behind:+.1f} % of the pace"
        checks.append(("issue 18: 5,000 at 20 events/s on pace, ≥ Node", ok, detail))
    cost = med("cost.publish", "ours")
    if cost is not None:
        checks.append(
            ("issue 18: server CPU per event before delivery ≤ 10 µs", cost <= 10, f"{cost:.1f} µs")
        )
    return checks


def target_checks(results: Results, plan: Plan) -> list[str]:
    checks = _fanout(results) if 5000 in plan.sizes else []
    checks += _event_cost(results)
    checks += _ten_thousand(results) if max(plan.sizes) >= 10_000 else []
    checks += _others(results, plan)
    checks += _slow(results, plan)
    return [f"- {name}: **{'met' if ok else 'not met'}** ({detail})" for name, ok, detail in checks]
