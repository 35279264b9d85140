"""What each figure means: its label, unit, direction, and the scenario it comes from."""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan import Plan
from bench.publish_cost import STEPS as COST_STEPS
from bench.scenarios_publish import PACED_RATE, SMALL_ROOM
from bench.scenarios_publish import sizes as publish_sizes


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
    small, paced_room, paced = publish_sizes(plan)
    paced_label = f"{paced_room:,} at {PACED_RATE:g}/s"
    rate = f"{plan.latency_rate:g}"
    return [
        Section(
            "memory",
            "Idle memory per connection",
            "Server RSS after N authenticated idle connections minus RSS before any (after a warm-up "
            f"of 20), divided by N; read {plan.settle_s:g} s after the last connect. Then the server's CPU "
            f"over {plan.idle_s:g} s with all {top:,} connected and idle (pings every 25 s).",
            (
                *(Metric(f"memory.{n}", f"at {n:,} connections", "KB", "lower") for n in plan.sizes),
                Metric("memory.idle_cpu", f"server CPU, {top:,} idle clients", "% of a core", "lower"),
            ),
        ),
        Section(
            "connects",
            "Connects",
            f"Authenticated connects per second while ramping to {top:,} ({plan.concurrency} handshakes "
            "in flight; time spent connecting only), then how long a mass disconnect of all of them takes. "
            "Stalls: how late a 5 ms timer in the server's event loop fired at worst (bench/servers/"
            "trigger.py's LagProbe, the same in every server), while ramping and during the disconnect "
            "(until 1 s after the last client is gone). GC: each cyclic collection in the Python servers, "
            "timed by gc.callbacks while the probe runs (none for Node).",
            (
                Metric("connects.rate", f"connects/s while ramping to {top:,}", "/s", "higher", 0),
                Metric("connects.ramp_lag_ms", "longest event-loop stall while ramping", "ms", "lower"),
                Metric("connects.disconnect_s", f"mass disconnect of {top:,}", "s", "lower", 2),
                Metric("connects.disconnect_lag_ms", "longest stall in the disconnect", "ms", "lower"),
                Metric("connects.disconnect_stalls", "stalls over 100 ms in the disconnect", "", "", 0),
                Metric("connects.full_gc_ms", f"a full collection, {top:,} connected (ours)", "ms", "lower"),
                Metric("connects.full_gc_found", "objects that full collection freed", "", "", 0),
                Metric("connects.ramp_gc_count", "GC collections while ramping", "", "", 0),
                Metric("connects.ramp_gc_gen2", "full (gen 2) collections while ramping", "", "", 0),
                Metric("connects.ramp_gc_max_ms", "longest GC pause while ramping", "ms", "lower"),
                Metric("connects.ramp_gc_total_ms", "GC time while ramping", "ms", "lower"),
                Metric("connects.disconnect_gc_max_ms", "longest GC pause in the disconnect", "ms", "lower"),
                Metric("connects.disconnect_gc_total_ms", "GC time in the disconnect", "ms", "lower"),
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
            f"{plan.redis_clients:,} clients on instance A; {plan.redis_events():,} events at "
            f"{plan.redis_rate:g}/s published on instance B; both use the same private redis-server, and "
            "both run on the server core.",
            tuple(_delivery("redis", "published on B, received on A", rate=False, cpu=False)),
        ),
        Section(
            "history",
            "History / resume overhead (ours only)",
            f"{plan.history_events:,} events back to back to a room of {plan.history_clients} clients, "
            "on four servers in the same run: in memory and through Redis, each with the default "
            "history (HISTORY_SIZE=200) and without (HISTORY_SIZE=0, offsets only). events/s = "
            "deliveries/s ÷ clients.",
            tuple(
                m
                for mode in ("memory", "redis")
                for m in (
                    Metric(f"history.{mode}.on", f"{mode}: events/s, history on", "/s", "higher", 0),
                    Metric(f"history.{mode}.off", f"{mode}: events/s, history off", "/s", "higher", 0),
                    Metric(f"history.{mode}.slower_pct", f"{mode}: slower with history", "%", ""),
                )
            ),
        ),
        Section(
            "scale",
            "Scale: two instances behind Redis, one `global` broadcast",
            f"{plan.scale_clients:,} clients, half on each of two instances (both on the server core), "
            f"all in the room `global`; {plan.scale_events} events published on instance B reach all.",
            (
                Metric("scale.clients", "clients connected", "", "", 0),
                Metric("scale.rate", "deliveries/s", "/s", "higher", 0),
                Metric("scale.p99_a", "latency p99, clients on A (the other instance)", "ms", "lower"),
                Metric("scale.p99_b", "latency p99, clients on B (the publishing instance)", "ms", "lower"),
                Metric("scale.max", "latency max", "ms", "lower"),
                Metric("scale.lost", "events lost", "events", "", 0),
            ),
        ),
        Section(
            "partition",
            "Partitioned fan-out (issue 15): four instances, each with its clients in a room of its own",
            f"Six instances on one Redis (all on the server core): four with {plan.partition_clients} "
            f"clients each, all in a room of that instance's own, one with no client at all, one with a "
            f"single client in the first room (what reading an event costs a member). Each of the "
            f"four publishes {plan.partition_events:,} events to its own room, at once. Redis bytes out "
            "per event: INFO stats `total_net_output_bytes` over the burst ÷ events (an event's message is "
            "~0.4 KB, so ~0.4 KB per event means one instance received it; ~2 KB, all five).",
            (
                Metric("partition.rate", "deliveries/s, all four rooms", "/s", "higher", 0),
                Metric("partition.idle_us", "CPU per event, instance with no member", "µs", "lower"),
                Metric(
                    "partition.member_us", "CPU per received event, instance with one member", "µs", "lower"
                ),
                Metric("partition.busy_us", "CPU per event, the four busy instances (sum)", "µs", "lower"),
                Metric("partition.redis_out", "Redis bytes sent per event", "B", "lower", 0),
                Metric("partition.lost", "events lost", "events", "", 0),
            ),
        ),
        Section(
            "slow",
            f"A client that stops reading (issue 12; ours only): {plan.slow_clients:,} others at "
            f"{plan.slow_rate:g} events/s",
            f"{plan.slow_events():,} events of ~{plan.slow_pad + 250:,} characters at {plan.slow_rate:g}/s "
            f"to a room of {plan.slow_clients:,} load-generator clients, on two servers per run: alone, and "
            "with one more client (a 4 KB receive buffer) that subscribed, then stopped reading and "
            "answered pings blindly. RSS growth = peak RSS during the stream − RSS just before it. "
            "Closed after: from the stream's start until the slow client's TCP connection was gone.",
            (
                Metric("slow.streamed_mb", "streamed to each client", "MB", "", 1),
                Metric("slow.closed_s", "slow client closed after", "s", "lower"),
                Metric("slow.alone.rss_mb", "RSS growth, no slow client", "MB", "lower"),
                Metric("slow.with.rss_mb", "RSS growth, with the slow client", "MB", "lower"),
                Metric("slow.rss_extra_mb", "RSS growth the slow client added", "MB", "lower"),
                Metric("slow.alone.p50", "others' latency p50, no slow client", "ms", "lower"),
                Metric("slow.with.p50", "others' latency p50, with the slow client", "ms", "lower"),
                Metric("slow.alone.p99", "others' latency p99, no slow client", "ms", "lower"),
                Metric("slow.with.p99", "others' latency p99, with the slow client", "ms", "lower"),
                Metric("slow.p99_change_pct", "others' p99 with ÷ without, − 1", "%", ""),
                Metric("slow.alone.lost", "others' events lost, no slow client", "events", "", 0),
                Metric("slow.with.lost", "others' events lost, with the slow client", "events", "", 0),
            ),
        ),
        Section(
            "flood",
            "Handshake flood from one address (ours only)",
            "bench/flood.py opens Engine.IO handshakes from 127.0.0.2 as fast as it can (half polling, half "
            "WebSocket held open, none joining a namespace); honest clients from 127.0.0.3 connect "
            f"({plan.flood_probe_rate:g}/s, each its own token: handshake, then `/ws`) for "
            f"{plan.flood_seconds:g} s without the flood, then {plan.flood_seconds:g} s with it.",
            (
                Metric("flood.offered_rate", "flood: handshakes offered", "/s", "", 0),
                Metric("flood.refused_rate", "flood: handshakes refused", "/s", "", 0),
                Metric("flood.accepted", "flood: sessions it got", "", "", 0),
                Metric("flood.server_cpu", "server CPU during the flood", "% of a core", "", 0),
                Metric("flood.quiet_p50", "honest connect p50, no flood", "ms", "lower"),
                Metric("flood.quiet_p99", "honest connect p99, no flood", "ms", "lower"),
                Metric("flood.quiet_max", "honest connect max, no flood", "ms", "lower"),
                Metric("flood.quiet_failed", "honest connects failed, no flood", "", "", 0),
                Metric("flood.flooded_p50", "honest connect p50, during the flood", "ms", "lower"),
                Metric("flood.flooded_p99", "honest connect p99, during the flood", "ms", "lower"),
                Metric("flood.flooded_max", "honest connect max, during the flood", "ms", "lower"),
                Metric("flood.flooded_failed", "honest connects failed during the flood", "", "", 0),
            ),
        ),
        Section(
            "publish",
            "The cost of one event, seen from the clients (issue 18)",
            f"A room of {SMALL_ROOM} clients sent {small:,} events back to back (per-event cost "
            f"dominates: deliveries/s); then a room of {paced_room:,} sent {PACED_RATE:g} events/s, "
            f"{paced:,} events: how long the server took to send what was due in "
            f"{(paced - 1) / PACED_RATE:g} s, how far behind the pace that is, and the latency.",
            (
                *_delivery("publish.100", f"{SMALL_ROOM} clients, back to back"),
                Metric("publish.paced.send_s", f"{paced_label}: time to send them", "s", "lower", 2),
                Metric("publish.paced.behind_pct", f"{paced_label}: behind the pace", "%", "lower"),
                *_delivery("publish.paced", paced_label, rate=False),
            ),
        ),
        Section(
            "cost",
            "Server CPU per published event before delivery (issue 18; ours only)",
            "bench/publish_cost.py, in one process pinned to the server core, no network: each step of a "
            "publish timed alone (best of 3 rounds of 20,000 calls; `WorkflowProgress` of the bench, one "
            "room), then `broadcaster.publish()` whole through the in-memory transport to a room with no "
            "member on this instance, and `publish_many()` with batches of 100. "
            "Run it alone: `.venv/bin/python bench/publish_cost.py`.",
            tuple(Metric(f"cost.{key}", label, "µs/event", "lower", 2) for key, label in COST_STEPS),
        ),
    ]


def scenario_of(key: str) -> str:
    """The scenario that produces metric `key` (`memory.1000` -> `memory`)."""
    return key.split(".", 1)[0]
