"""Prometheus metrics of one app instance, scraped at `GET /metrics`.

Each app owns a `CollectorRegistry` (not prometheus-client's global one), so
several servers in one process, as in the tests, keep separate counts.
Counters are bumped by one-line calls from the handlers and the broadcaster;
values that are state rather than history (connections, subscriptions, Redis)
are read from their owners at scrape time, so they can never drift.

The per-event figures (`ws_events_broadcast_total`, the broadcast duration
histogram) are plain integers in a dict and a list, turned into Prometheus
families at scrape time: a prometheus-client `labels().inc()` and `observe()`
take a lock and cost about 1.5 µs per event, a tenth of what a whole publish
may cost (issue 18). Events are counted on the event loop's thread only.

Label values come from small fixed sets (error codes, disconnect reasons,
event types, room kinds), never from room names or user ids.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = CONTENT_TYPE_LATEST
REDIS_STATES = ("disabled", "ok", "down")
# Local broadcasts take microseconds; a Redis round trip milliseconds.
DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def _label(text: object) -> str:
    """python-socketio's reasons read "ping timeout"; labels read ping_timeout."""
    return str(text).strip().lower().replace(" ", "_") or "unknown"


class _StateCollector(Collector):
    def __init__(
        self, connections: Callable[[], int], subscriptions: Callable[[], int], redis: Callable[[], str]
    ) -> None:
        self._connections = connections
        self._subscriptions = subscriptions
        self._redis = redis

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("ws_connections", "Connections open on this instance", self._connections())
        yield GaugeMetricFamily(
            "ws_subscriptions",
            "Rooms joined with subscribe by the connections of this instance (automatic rooms excluded)",
            self._subscriptions(),
        )
        state = self._redis()
        redis = GaugeMetricFamily("ws_redis_state", "1 for the current Redis state", labels=["state"])
        for name in REDIS_STATES:
            redis.add_metric([name], 1.0 if name == state else 0.0)
        yield redis


class _EventCounts(Collector):
    """Events published, by (type, outcome), and their durations: plain counts, families at scrape."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, bool], int] = {}
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last one: above every bound
        self.total_s = 0.0

    def add(self, event_type: str, ok: bool, duration_s: float) -> None:
        key = (event_type, ok)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.buckets[bisect_left(DURATION_BUCKETS, duration_s)] += 1
        self.total_s += duration_s

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "ws_events_broadcast", "Events published by this process, by type and outcome",
            labels=["type", "outcome"],
        )  # fmt: skip
        for (event_type, ok), count in sorted(self.counts.items()):
            events.add_metric([event_type, "ok" if ok else "failed"], count)
        yield events
        cumulative, buckets = 0, []
        for bound, count in zip((*map(floatToGoString, DURATION_BUCKETS), "+Inf"), self.buckets, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "ws_broadcast_duration_seconds", "Time to hand one event to every room it goes to",
            buckets=buckets, sum_value=self.total_s,
        )  # fmt: skip


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        r = self.registry
        self._connects = Counter("ws_connects", "Connections accepted", registry=r)
        self._disconnects = Counter("ws_disconnects", "Connections closed, by reason", ["reason"], registry=r)
        self._refused = Counter(
            "ws_connections_refused", "Connections refused, by error code", ["code"], registry=r
        )
        self._subscribes = Counter(
            "ws_subscribes", "Successful subscribe commands, by room kind", ["kind"], registry=r
        )
        self._events = _EventCounts()
        r.register(self._events)
        # The hot call, bound once: `event_broadcast` is this method of the counts.
        self.event_broadcast = self._events.add

    def observe_state(
        self,
        *,
        connections: Callable[[], int],
        subscriptions: Callable[[], int],
        redis_state: Callable[[], str],
    ) -> None:
        """Report these at every scrape (call once per registry)."""
        self.registry.register(_StateCollector(connections, subscriptions, redis_state))

    # -- the one-line calls ------------------------------------------------
    def connected(self) -> None:
        self._connects.inc()

    def disconnected(self, reason: object) -> None:
        self._disconnects.labels(_label(reason)).inc()

    def refused(self, code: str) -> None:
        self._refused.labels(code).inc()

    def subscribed(self, room: str) -> None:
        self._subscribes.labels(room.partition(":")[0]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
