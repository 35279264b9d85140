"""What a run measures: scenario names, sizes and counts (full and --quick)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

# Scenario names in the order they run; `memory` and `connects` share one ramp.
SCENARIOS = (
    "memory",
    "connects",
    "fanout",
    "latency",
    "single",
    "redis",
    "history",
    "scale",
    "partition",
    "slow",
    "flood",
    "publish",
    "cost",
)
TARGET_KEYS = (
    "ours", "ours-before", "ours-stock-engineio", "ours-default-gc", "ours-stock-ws", "ours-no-freeze",
    "ours-gate", "python-socketio", "websockets", "asyncio", "node", "node-sharded",
)  # fmt: skip
# node-sharded differs from node only across instances: asked for by name (--servers), not by default.
DEFAULT_TARGETS = tuple(key for key in TARGET_KEYS if key != "node-sharded")
# Variants of ours with one change switched off run only where that change matters.
SWITCHED_OFF_SCENARIOS = ("memory", "connects", "fanout")
SWITCHED_OFF = ("ours-stock-engineio", "ours-default-gc", "ours-stock-ws", "ours-no-freeze", "ours-gate")
# Scenarios that measure our own code in-process (no server, no reference to compare with).
OURS_ONLY_SCENARIOS = ("cost",)


@dataclass(frozen=True)
class Plan:
    runs: int = 3
    sizes: tuple[int, ...] = (1000, 5000, 10000)  # idle-memory and fan-out room sizes
    fanout_deliveries: int = 50_000  # per measured burst: events = deliveries / room size
    fanout_min_events: int = 5
    warmup_events: int = 2  # sent and discarded before each measured burst (JIT, lazy imports)
    latency_clients: int = 1000
    latency_rate: float = 20
    latency_seconds: float = 10
    single_events: int = 20_000
    redis_clients: int = 1000
    redis_rate: float = 50
    redis_seconds: float = 20  # 1,000 events: enough for a p99
    history_clients: int = 100
    history_events: int = 3000
    scale_clients: int = 20_000  # across two instances
    scale_events: int = 5
    # partition: four instances with partition_clients each in a room of their own, plus one
    # instance with no client; each busy instance publishes partition_events to its own room
    partition_clients: int = 100
    partition_events: int = 1000
    # slow: one client stops reading while slow_clients others get slow_rate events/s of slow_pad
    # characters for slow_seconds (~6.5 MB each: past MAX_QUEUED_BYTES plus the kernel's buffers)
    slow_clients: int = 1000
    slow_rate: float = 20
    slow_pad: int = 8000
    slow_seconds: float = 40
    flood_seconds: float = 10  # each phase: honest connects without, then with, the flood
    flood_probe_rate: float = 20  # honest connects per second
    settle_s: float = 2.0  # pause before reading a server's memory
    idle_s: float = 25.0  # idle CPU is read over one ping interval with every client connected
    idle_ms: int = 5000  # a burst is over when nothing arrived for this long...
    deadline_ms: int = 180_000  # ...or after this long
    concurrency: int = 100  # handshakes in flight while ramping
    source_addresses: int = 4  # 127.0.0.1 ... 127.0.0.N
    profile_size: int = 5000
    scenarios: tuple[str, ...] = SCENARIOS
    targets: tuple[str, ...] = DEFAULT_TARGETS
    before: str = ""  # git ref of "ours before" ("": bench.targets.BEFORE_REF)

    def fanout_events(self, size: int) -> int:
        return max(self.fanout_min_events, math.ceil(self.fanout_deliveries / size))

    @property
    def max_clients(self) -> int:
        sizes = [*self.sizes, self.latency_clients, self.redis_clients, self.profile_size, 1]
        return max([*sizes, self.history_clients, self.scale_clients, self.slow_clients])

    @property
    def clients_per_process(self) -> int:
        """The most clients one load generator holds (the scale scenario uses one per instance)."""
        sizes = [*self.sizes, self.latency_clients, self.redis_clients, self.profile_size, 1]
        return max([*sizes, self.history_clients, math.ceil(self.scale_clients / 2), self.slow_clients])

    def targets_of(self, scenario: str) -> tuple[str, ...]:
        """The targets a scenario runs against (switched-off variants: where their change shows)."""
        if scenario in OURS_ONLY_SCENARIOS:
            return tuple(t for t in self.targets if t in ("ours", "ours-before"))
        return tuple(t for t in self.targets if t not in SWITCHED_OFF or scenario in SWITCHED_OFF_SCENARIOS)

    def latency_events(self) -> int:
        return max(1, round(self.latency_rate * self.latency_seconds))

    def redis_events(self) -> int:
        return max(1, round(self.redis_rate * self.redis_seconds))

    def slow_events(self) -> int:
        return max(1, round(self.slow_rate * self.slow_seconds))


QUICK = Plan(
    runs=1,
    sizes=(200,),
    fanout_deliveries=2000,
    fanout_min_events=5,
    latency_clients=200,
    latency_seconds=1,
    single_events=1000,
    redis_clients=100,
    redis_seconds=1,
    history_clients=20,
    history_events=100,
    scale_clients=200,
    scale_events=3,
    slow_clients=100,
    slow_rate=50,
    slow_seconds=16,
    flood_seconds=3,
    flood_probe_rate=10,
    settle_s=0.3,
    idle_s=1.0,
    idle_ms=2000,
    deadline_ms=30_000,
    profile_size=200,
)


def build_plan(quick: bool, **overrides: Any) -> Plan:
    """The full or quick plan with the command line's overrides (None: keep the default)."""
    base = QUICK if quick else Plan()
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
