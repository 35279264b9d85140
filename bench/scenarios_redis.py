"""Scenarios across two instances behind Redis: (4) cross-instance latency, and scale.

Both instances of a target share a private redis-server and a channel (and,
for ours, a key prefix) no other run uses.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from bench.loadgen import LoadGen
from bench.scenarios import Context, Figures, Skipped, burst, close_clients, connect, delivery_figures
from bench.servers.trigger import ROOM
from bench.targets import RedisLink, Server, Target

GLOBAL = "global"  # every connection of ours is in it; the references join it on request


@asynccontextmanager
async def two_instances(ctx: Context, target: Target, name: str) -> AsyncIterator[tuple[Server, Server]]:
    if not target.crosses_instances:
        raise Skipped("no cross-instance mode")
    link = RedisLink(ctx.redis.url, f"bench-{name}-{time.monotonic_ns()}")
    a = await Server(target, f"{name}-a", link, ctx.before_ref).start(ctx.secret)
    try:
        b = await Server(target, f"{name}-b", link, ctx.before_ref).start(ctx.secret)
        try:
            yield a, b
        finally:
            await b.stop()
    finally:
        await a.stop()


@asynccontextmanager
async def load_generators(ctx: Context, count: int, per_generator: int) -> AsyncIterator[list[LoadGen]]:
    """`count` load generators, each with its own range of tokens (users)."""
    async with AsyncExitStack() as stack:
        generators = []
        for i in range(count):
            loadgen = LoadGen(ctx.tokens_file, ctx.source_addresses, first_token=i * per_generator)
            stack.push_async_callback(close_clients, loadgen)
            generators.append(await loadgen.start())
        yield generators


async def cross_instance(ctx: Context, target: Target, run: int) -> Figures:
    """(4) clients on instance A, events published on instance B, through Redis."""
    plan = ctx.plan
    async with (
        two_instances(ctx, target, f"redis-{target.key}-{run}") as (a, b),
        load_generators(ctx, 1, plan.redis_clients) as [loadgen],
    ):
        await connect(loadgen, a, ctx, plan.redis_clients, ROOM)
        await burst(ctx, b, loadgen, plan.warmup_events, plan.redis_rate)
        stats = await burst(ctx, b, loadgen, plan.redis_events(), plan.redis_rate)
    return delivery_figures("redis", stats)


async def scale(ctx: Context, target: Target, run: int) -> Figures:
    """Half the clients on each of two instances, a `global` broadcast from B reaching all.

    One load generator per instance (a process may not hold 20,000 sockets here).
    """
    plan = ctx.plan
    half = plan.scale_clients // 2
    async with (
        two_instances(ctx, target, f"scale-{target.key}-{run}") as (a, b),
        load_generators(ctx, 2, half) as generators,
    ):
        for server, loadgen in zip((a, b), generators, strict=True):
            await connect(loadgen, server, ctx, half, GLOBAL)
        await _all_receive(ctx, b, generators, plan.warmup_events)
        on_a, on_b = await _all_receive(ctx, b, generators, plan.scale_events)
    received = on_a["received"] + on_b["received"]
    span_ms = max(on_a["last_received_ms"], on_b["last_received_ms"]) - min(
        on_a["first_sent_ms"], on_b["first_sent_ms"]
    )
    return {
        "scale.clients": on_a["clients"] + on_b["clients"],
        "scale.rate": received / (span_ms / 1000),
        "scale.p99_a": on_a["p99_ms"],
        "scale.p99_b": on_b["p99_ms"],
        "scale.max": max(on_a["max_ms"], on_b["max_ms"]),
        "scale.lost": on_a["lost"] + on_b["lost"],
        "scale.dropped": on_a["dropped"] + on_b["dropped"],
    }


async def partition(ctx: Context, target: Target, run: int) -> Figures:
    """Four instances whose clients are in rooms of their own, one with none: what partitioning buys.

    Before it, every instance read and decoded every event; after, an instance
    reads the events of rooms it has a member in (the idle instance: none).
    """
    if not target.crosses_instances:
        raise Skipped("no cross-instance mode")
    plan = ctx.plan
    link = RedisLink(ctx.redis.url, f"bench-partition-{target.key}-{run}-{time.monotonic_ns()}")
    async with AsyncExitStack() as stack:
        servers = []
        for i in range(6):
            server = await Server(target, f"partition-{target.key}-{run}-{i}", link, ctx.before_ref).start(
                ctx.secret
            )
            stack.push_async_callback(server.stop)
            servers.append(server)
        busy = servers[:4]  # servers[4] has no client; servers[5] one, in the first room
        [loadgen] = await stack.enter_async_context(load_generators(ctx, 1, plan.partition_clients * 4 + 1))
        rooms = [f"workflow:{uuid.uuid4()}" for _ in busy]
        for server, room in zip(busy, rooms, strict=True):
            await connect(loadgen, server, ctx, plan.partition_clients, room)
        await connect(loadgen, servers[5], ctx, 1, rooms[0])
        await loadgen.expect(plan.warmup_events)
        await asyncio.gather(*(s.broadcast(r, plan.warmup_events) for s, r in zip(busy, rooms, strict=True)))
        await loadgen.collect(plan.idle_ms, plan.deadline_ms)

        n = plan.partition_events
        await loadgen.expect(n)
        cpu = [s.cpu_seconds() for s in servers]
        out = await _redis_bytes_out(ctx.redis.url)
        await asyncio.gather(*(s.broadcast(r, n) for s, r in zip(busy, rooms, strict=True)))
        stats = await loadgen.collect(plan.idle_ms, plan.deadline_ms)
        events = n * len(busy)
        used = [s.cpu_seconds() - before for s, before in zip(servers, cpu, strict=True)]
        redis_out = await _redis_bytes_out(ctx.redis.url) - out
    return {
        "partition.rate": stats["deliveries_per_s"],
        "partition.idle_us": used[4] / events * 1e6,
        "partition.busy_us": sum(used[:4]) / events * 1e6,
        "partition.member_us": used[5] / n * 1e6,
        "partition.redis_out": redis_out / events,
        "partition.lost": stats["lost"],
    }


async def _redis_bytes_out(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int((await client.info("stats"))["total_net_output_bytes"])
    finally:
        await client.aclose()


async def _all_receive(
    ctx: Context, publisher: Server, generators: list[LoadGen], n: int
) -> list[dict[str, Any]]:
    for loadgen in generators:
        await loadgen.expect(n)
    await publisher.broadcast(GLOBAL, n)
    plan = ctx.plan
    return list(await asyncio.gather(*(g.collect(plan.idle_ms, plan.deadline_ms) for g in generators)))
