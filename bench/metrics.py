"""What each figure means: its label, unit, direction, and the scenario it comes from."""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan import Plan


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    better: str  # "higher", "lower", or "" for context figures (no ratio)
    decimals: int = 1

    @property
    def arrow(self) -> str:
        return {"higher": "↑", "lower": "↓"}.get(self.better, "")


@dataclass(frozen=True, slots=True)
class Section:
    scenario: str  # the --scenarios name whose runs produce these figures
    title: str
    what: str  # how it is measured, for the reader of RESULTS.md
    metrics: tuple[Metric, ...]


def _delivery(prefix: str, label: str, rate: bool = True, cpu: bool = True) -> list[Metric]:
    rows = [Metric(f"{prefix}.rate", f"{label}: deliveries/s", "/s", "higher", 0)] if rate else []
    rows += [
        Metric(f"{prefix}.p50", f"{label}: latency p50", "ms", "lower"),
        Metric(f"{prefix}.p99", f"{label}: latency p99", "ms", "lower"),
        Metric(f"{prefix}.max", f"{label}: latency max", "ms", "lower"),
        Metric(f"{prefix}.lost", f"{label}: events lost", "events", "", 0),
    ]
    if cpu:
        rows += [
            Metric(f"{prefix}.server_cpu", f"{label}: server CPU", "% of a core", "", 0),
            Metric(f"{prefix}.load_cpu", f"{label}: load generator CPU", "% of a core", "", 0),
            Metric(f"{prefix}.other_cpu", f"{label}: other work on the server's core", "% of a core", "", 0),
        ]
    return rows


def sections(plan: Plan) -> list[Section]:
    top = max(plan.sizes)
    rate = f"{plan.latency_rate:g}"
    return [
        Section(
            "memory",
            "Idle memory per connection",
            "Server RSS after N authenticated idle connections minus RSS before any (after a warm-up "
            f"of 20), divided by N; read {plan.settle_s:g} s after the last connect.",
            tuple(Metric(f"memory.{n}", f"at {n:,} connections", "KB", "lower") for n in plan.sizes),
        ),
        Section(
            "connects",
            "Connects",
            f"Authenticated connects per second while ramping to {top:,} ({plan.concurrency} handshakes "
            "in flight; time spent connecting only), then how long a mass disconnect of all of them takes.",
            (
                Metric("connects.rate", f"connects/s while ramping to {top:,}", "/s", "higher", 0),
                Metric("connects.disconnect_s", f"mass disconnect of {top:,}", "s", "lower", 2),
            ),
        ),
        Section(
            "fanout",
            "Fan-out of one room broadcast",
            f"All clients subscribe to one room (subscribe command, ack checked); after {plan.warmup_events} "
            f"warm-up events the server sends max({plan.fanout_min_events}, {plan.fanout_deliveries:,} ÷ N) "
            "events back to back. deliveries/s = events received ÷ (last receipt − first send). "
            "Latency = receipt − send time carried in the event.",
            tuple(m for n in plan.sizes for m in _delivery(f"fanout.{n}", f"to {n:,} clients")),
        ),
        Section(
            "latency",
            f"Paced broadcast: {plan.latency_clients:,} clients at {rate} events/s",
            f"{plan.latency_events()} events at {rate}/s to a room of {plan.latency_clients:,}; a server "
            "that cannot keep up shows it as growing latency.",
            tuple(_delivery("latency", f"{plan.latency_clients:,} clients at {rate}/s", rate=False)),
        ),
        Section(
            "single",
            "Max rate to one client",
            f"{plan.single_events:,} events back to back to a room with one client.",
            tuple(_delivery("single", "one client")),
        ),
        Section(
            "redis",
            "Cross-instance through Redis",
            f"{plan.redis_clients:,} clients on instance A; {plan.redis_events()} events at "
            f"{plan.redis_rate:g}/s published on instance B; both use the same private redis-server.",
            tuple(_delivery("redis", "published on B, received on A", rate=False, cpu=False)),
        ),
        Section(
            "history",
            "History / resume overhead",
            "Cost of keeping event history for resumption (issue 6). Not built yet: no figures.",
            (),
        ),
    ]


def scenario_of(key: str) -> str:
    """The scenario that produces metric `key` (`memory.1000` -> `memory`)."""
    return key.split(".", 1)[0]
