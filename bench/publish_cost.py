"""The server CPU one published event costs before its first recipient, step by step.

    .venv/bin/python bench/publish_cost.py [--events 20000] [--json FILE] [--redis-url URL]

Runs in one process, no network: each step a publish takes (validate the
payload model, serialise it, build the event, number it into the room's
history with its envelope, count it in the metrics, encode the Socket.IO
packet, hand it to a room with no member on this instance), timed alone over
`--events` calls (best of `--repeat` rounds), then the whole of
`broadcaster.publish()` through the in-memory transport, and
`publish_many()` for batches of 100 when the broadcaster has it. µs per event.
With `--redis-url`, also `publish()` and `publish_many()` through Redis as a
worker publishes (history script, round trips included): wall time per
event, not CPU, since most of it is waiting for Redis.

`bench/run.py --scenarios cost` runs this against `ours` and `ours before`
(the `--before` ref, so the two are the same benchmark on two trees) and puts
the table in RESULTS.md. Steps a tree does not have are reported as missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: apps/api importable unless PYTHONPATH names a tree
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root)]
    if not any(Path(p, "main.py").exists() for p in sys.path if p):
        sys.path.insert(0, str(_root / "apps" / "api"))

import argparse
import asyncio
import gc
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

WORKFLOW_ID = "6f1c2b8e-0d4a-4e43-9a57-3b8f5d2c9e10"
ROOM = f"workflow:{WORKFLOW_ID}"
MESSAGE = "bench:1700000000000.000;"

# (key, label) in the order a publish takes them; keys are the `cost.<key>` figures.
STEPS = (
    ("validate", "validate the payload model (Pydantic)"),
    ("serialise", "serialise the payload to JSON"),
    ("event", "build the event: id, timestamp, serialised payload"),
    ("history", "number it into the room's history, with its envelope"),
    ("envelope", "the envelope alone (position + rest)"),
    ("metrics", "count it in the metrics"),
    ("encode", "encode the Socket.IO packet"),
    ("route", "transport: history + hand to a room with no local member"),
    ("publish", "broadcaster.publish(payload), all of the above"),
    ("publish_many", "broadcaster.publish_many(100 payloads), per event"),
    ("redis_publish", "through Redis: publish(payload), wall time per event (a worker's path)"),
    ("redis_publish_many", "through Redis: publish_many(100 payloads), wall time per event"),
    ("redis_publish_keyed", "through Redis: publish(payload, idempotency_key), wall time per event"),
    (
        "redis_publish_many_keyed",
        "through Redis: publish_many(100 payloads, a key each), wall time per event",
    ),
)


def timed(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best µs per call of `fn` over `repeat` rounds of `n` calls."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1e6


async def timed_async(fn: Callable[[], Awaitable[object]], n: int, repeat: int, per: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, (time.perf_counter() - started) / (n * per))
    return best * 1e6


def _step(results: dict[str, float | None], key: str, measure: Callable[[], float]) -> None:
    try:
        results[key] = measure()
    except Exception as exc:  # a tree without this step (ours before): reported as missing
        results[key] = None
        print(f"[publish_cost] {key}: {type(exc).__name__}: {exc}", file=sys.stderr)


async def measure(n: int, repeat: int, redis_url: str | None = None) -> dict[str, float | None]:
    import socketio

    from events.broadcaster import EventBroadcaster
    from observability.metrics import Metrics
    from websocket.broker.local_manager import LocalManager
    from websocket.broker.transport import LocalTransport
    from websocket.history.in_memory import MemoryHistory
    from websocket.protocol import envelope as envelope_module
    from websocket.protocol import jsonlib
    from websocket.protocol.envelope import OutboundEvent
    from websocket.protocol.paths import NAMESPACE
    from websocket.protocol.payloads import WorkflowProgress

    def payload() -> Any:
        return WorkflowProgress(workflow_id=WORKFLOW_ID, progress=42, current_step="bench", message=MESSAGE)

    manager = LocalManager()
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, json=jsonlib)
    manager.set_server(sio)
    manager.initialize()
    manager.rooms.setdefault(NAMESPACE, {})
    history = MemoryHistory(200, 300.0, 3600.0)
    transport = LocalTransport(manager, history)
    metrics = Metrics()
    broadcaster = EventBroadcaster(transport)
    broadcaster.attach(transport, observer=metrics)

    sample = payload()
    event = OutboundEvent.create(sample)
    body = jsonlib.Fragment(history.append(ROOM, event)[0])
    results: dict[str, float | None] = {}
    serialise = getattr(envelope_module, "_payload_json", None) or (
        lambda p: p.__pydantic_serializer__.to_json(p)
    )
    _step(results, "validate", lambda: timed(payload, n, repeat))
    _step(results, "serialise", lambda: timed(lambda: serialise(sample), n, repeat))
    _step(results, "event", lambda: timed(lambda: OutboundEvent.create(sample), n, repeat))
    _step(results, "history", lambda: timed(lambda: history.append(ROOM, event), n, repeat))
    _step(results, "envelope", lambda: timed(lambda: event.envelope(ROOM, 7, "abcdef"), n, repeat))
    _step(
        results,
        "metrics",
        lambda: timed(lambda: metrics.event_broadcast("workflow.progress", True, 1e-5), n, repeat),
    )
    try:  # the packet written by formatting (issue 18), else python-socketio's Packet as before
        from websocket.internals.packets import event_packet

        envelope = history.append(ROOM, event)[0]
        encode: Callable[[], object] = lambda: event_packet(NAMESPACE, "workflow.progress", envelope)  # noqa: E731
    except ImportError:
        encode = lambda: manager.encode("workflow.progress", body, NAMESPACE)  # noqa: E731
    _step(results, "encode", lambda: timed(encode, n, repeat))
    rooms = [ROOM]
    results["route"] = await _async_step(lambda: timed_async(lambda: transport.send(event, rooms), n, repeat))
    results["publish"] = await _async_step(
        lambda: timed_async(lambda: broadcaster.publish(payload(), rooms=rooms), n, repeat)
    )
    publish_many = getattr(broadcaster, "publish_many", None)
    if publish_many is None:
        results["publish_many"] = None
    else:
        batch = max(1, n // 100)

        async def many() -> object:
            return await publish_many([payload() for _ in range(100)], rooms=rooms)

        results["publish_many"] = await _async_step(lambda: timed_async(many, batch, repeat, 100))
    if redis_url:
        results.update(await through_redis(redis_url, payload, max(100, n // 20), repeat))
    return results


async def through_redis(url: str, payload: Callable[[], Any], n: int, repeat: int) -> dict[str, float | None]:
    """publish() and publish_many(100) through a RedisTransport, as a worker publishes (wall µs per event)."""
    import uuid

    from events.broadcaster import EventBroadcaster
    from events.dedupe import RedisDedupeStore
    from websocket.broker.connection import RedisPublisher
    from websocket.broker.transport import RedisTransport
    from websocket.history.in_redis import RedisHistory

    prefix = f"bench-cost-{uuid.uuid4().hex[:8]}"
    publisher = RedisPublisher(url, prefix, 5.0)
    history = RedisHistory(publisher, prefix, 200, 300.0, 3600.0)
    dedupe = RedisDedupeStore(url, f"{prefix}:dedupe:")  # as a worker with REDIS_URL has it
    broadcaster = EventBroadcaster(RedisTransport(publisher, history), dedupe=dedupe)
    rooms = [ROOM]
    keys = (f"{prefix}-{n}" for n in itertools.count())  # every key new: each event is claimed and sent

    async def many() -> object:
        return await broadcaster.publish_many([payload() for _ in range(100)], rooms=rooms)

    async def many_keyed() -> object:
        batch = [payload() for _ in range(100)]
        return await broadcaster.publish_many(
            batch, rooms=rooms, idempotency_keys=[next(keys) for _ in batch]
        )

    try:
        return {
            "redis_publish": await _async_step(
                lambda: timed_async(lambda: broadcaster.publish(payload(), rooms=rooms), n, repeat)
            ),
            "redis_publish_many": await _async_step(lambda: timed_async(many, max(1, n // 100), repeat, 100)),
            "redis_publish_keyed": await _async_step(
                lambda: timed_async(
                    lambda: broadcaster.publish(payload(), rooms=rooms, idempotency_key=next(keys)), n, repeat
                )
            ),
            "redis_publish_many_keyed": await _async_step(
                lambda: timed_async(many_keyed, max(1, n // 100), repeat, 100)
            ),
        }
    finally:
        await broadcaster.aclose()
        await dedupe.close()


async def _async_step(measure: Callable[[], Awaitable[float]]) -> float | None:
    try:
        return await measure()
    except Exception as exc:
        print(f"[publish_cost] {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def table(results: dict[str, float | None]) -> str:
    lines = ["| step | µs per event |", "|---|---|"]
    for key, label in STEPS:
        value = results.get(key)
        lines.append(f"| {label} | {'—' if value is None else f'{value:.2f}'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="calls per round (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is kept (default 3)")
    parser.add_argument("--json", help="also write {step: µs} here ('-': print only the JSON)")
    parser.add_argument("--redis-url", help="also publish through this Redis (the redis_* steps)")
    args = parser.parse_args(argv)
    from logging_setup import configure_logging

    configure_logging("INFO", "json")  # as the server runs (bench/targets.py): debug lines are off
    try:
        from gc_setup import tune_gc

        tune_gc()  # as main.py does once the app is built
    except ImportError:
        gc.freeze()
    results = asyncio.run(measure(args.events, args.repeat, args.redis_url))
    if args.json == "-":
        print(json.dumps(results))
        return 0
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
