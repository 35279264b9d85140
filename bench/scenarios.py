"""One run of one scenario against one target: start it, load it, return figures.

Each function starts a fresh server and load generator, so no run inherits
another's memory or queues, and returns {metric key: value} for that run.
Metric keys are described in report.py.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import LoadGen
from bench.plan import Plan
from bench.procs import SERVER_CORES, cores_busy_seconds, cpu_seconds
from bench.servers.trigger import ROOM
from bench.targets import BEFORE_REF, Server, Target

Figures = dict[str, float | None]


class Skipped(Exception):
    """This scenario cannot run against this target; the message says why."""


@dataclass
class Context:
    plan: Plan
    secret: str
    tokens_file: Path
    redis: Any = None  # bench.redis_server.RedisServer once a scenario needs one
    before_ref: str = BEFORE_REF

    @property
    def source_addresses(self) -> list[str]:
        return [f"127.0.0.{i}" for i in range(1, self.plan.source_addresses + 1)]


@asynccontextmanager
async def session(
    ctx: Context, target: Target, name: str, settings: dict[str, str] | None = None
) -> AsyncIterator[tuple[Server, LoadGen]]:
    server = await Server(target, name, before_ref=ctx.before_ref, settings=settings).start(ctx.secret)
    loadgen = LoadGen(ctx.tokens_file, ctx.source_addresses)
    try:
        await loadgen.start()
        yield server, loadgen
    finally:
        await close_clients(loadgen)
        await server.stop()


async def close_clients(loadgen: LoadGen) -> None:
    """Disconnect every client the way a browser would, then stop the load generator.

    Closing cleanly keeps the servers' logs free of abrupt-disconnect noise
    that no scenario asked for.
    """
    try:
        if loadgen.proc is not None and loadgen.proc.returncode is None:
            await loadgen.disconnect_all(timeout_ms=30_000)
    except Exception as exc:  # the figures are taken; a failed goodbye must not hide them
        print(f"[bench] closing clients failed: {exc}", file=sys.stderr)
    finally:
        await loadgen.close()


async def connect(
    loadgen: LoadGen, server: Server, ctx: Context, count: int, room: str | None
) -> dict[str, Any]:
    reply = await loadgen.connect(server.ws_url, count, room=room, concurrency=ctx.plan.concurrency)
    if reply["failed"] or (room and reply["subscribed"] != reply["connected"]):
        raise RuntimeError(
            f"{reply['failed']} of {count} clients failed to connect or subscribe: {reply['errors']}"
        )
    return reply


async def burst(
    ctx: Context, server: Server, loadgen: LoadGen, n: int, rate: float = 0, room: str = ROOM, pad: int = 0
) -> dict[str, Any]:
    """Every client expects `n` events (`pad` more characters each); the server sends them to `room`."""
    await loadgen.expect(n)
    server_cpu, load_cpu, core = (
        server.cpu_seconds(),
        cpu_seconds(loadgen.pid),
        cores_busy_seconds(SERVER_CORES),
    )
    started = time.monotonic()
    sent = await server.broadcast(room, n, rate, pad)
    stats = await loadgen.collect(ctx.plan.idle_ms, ctx.plan.deadline_ms)
    stats["send_ms"] = sent.get("elapsed_ms")  # how long the server took to send them all
    wall = time.monotonic() - started
    server_used = server.cpu_seconds() - server_cpu
    stats["server_cpu"] = 100 * server_used / wall
    stats["load_cpu"] = 100 * (cpu_seconds(loadgen.pid) - load_cpu) / wall
    # Whatever else ran on the server's core (other processes, the hypervisor) competed with it.
    stats["other_cpu"] = max(0.0, 100 * (cores_busy_seconds(SERVER_CORES) - core - server_used) / wall)
    return stats


def delivery_figures(prefix: str, stats: dict[str, Any]) -> Figures:
    return {
        f"{prefix}.rate": stats["deliveries_per_s"],
        f"{prefix}.p50": stats["p50_ms"],
        f"{prefix}.p99": stats["p99_ms"],
        f"{prefix}.max": stats["max_ms"],
        f"{prefix}.lost": stats["lost"],
        f"{prefix}.dropped": stats["dropped"],
        f"{prefix}.duplicates": stats["duplicates"],
        f"{prefix}.server_cpu": stats["server_cpu"],
        f"{prefix}.load_cpu": stats["load_cpu"],
        f"{prefix}.other_cpu": stats["other_cpu"],
    }


async def ramp(ctx: Context, target: Target, run: int) -> Figures:
    """(1) idle memory per connection at each size, (3) connects/s while ramping, then a mass
    disconnect; the server's event-loop stalls during both."""
    figures: Figures = {}
    async with session(ctx, target, f"ramp-{target.key}-{run}") as (server, loadgen):
        await connect(loadgen, server, ctx, 20, None)  # warm-up: lazy imports, first allocations
        await loadgen.disconnect_all()
        await asyncio.sleep(ctx.plan.settle_s)
        baseline = server.rss_kb()
        total, connect_ms, ramp_lag = 0, 0.0, 0.0
        ramp_gc: list[dict[str, float]] = []
        for size in ctx.plan.sizes:
            await server.control("/bench/lag/start")
            reply = await connect(loadgen, server, ctx, size - total, None)
            lag = await server.control("/bench/lag/stop")
            ramp_lag = max(ramp_lag, lag["max_ms"])
            ramp_gc.append(lag)
            total, connect_ms = size, connect_ms + reply["connect_ms"]
            await asyncio.sleep(ctx.plan.settle_s)
            figures[f"memory.{size}"] = (server.rss_kb() - baseline) / size
        figures["connects.ramp_lag_ms"] = ramp_lag
        figures.update(gc_figures("connects.ramp", ramp_gc))
        # What holding them costs: pings, timers (connections were opened over seconds,
        # so their pings are spread over the window).
        cpu = server.cpu_seconds()
        await asyncio.sleep(ctx.plan.idle_s)
        figures["memory.idle_cpu"] = 100 * (server.cpu_seconds() - cpu) / ctx.plan.idle_s
        figures["connects.rate"] = total / (connect_ms / 1000)
        # What a full collection of everything (GC_RECLAIM_INTERVAL's reclaim) pauses for now.
        full = await server.control("/bench/gc/collect?unfreeze=1") if target.is_ours else {}
        figures["connects.full_gc_ms"] = full.get("ms")
        figures["connects.full_gc_found"] = full.get("collected")  # cyclic garbage it freed
        await server.control("/bench/lag/start")
        closed = await loadgen.disconnect_all()
        await asyncio.sleep(1)  # the server may still be cleaning up after the clients are gone
        lag = await server.control("/bench/lag/stop")
        figures["connects.disconnect_s"] = closed["elapsed_ms"] / 1000
        figures["connects.disconnect_lag_ms"] = lag["max_ms"]
        figures["connects.disconnect_stalls"] = lag["over_100ms"]
        figures.update(gc_figures("connects.disconnect", [lag]))
        figures["connects.forced"] = closed["forced"]  # still open at the timeout, then cut
    return figures


def gc_figures(prefix: str, probes: list[dict[str, float]]) -> Figures:
    """The garbage collections the lag probe timed (Python servers only; None for Node)."""
    if not probes or any("gc_count" not in probe for probe in probes):
        return {f"{prefix}_gc_{k}": None for k in ("count", "gen2", "max_ms", "gen2_max_ms", "total_ms")}
    return {
        f"{prefix}_gc_count": sum(p["gc_count"] for p in probes),
        f"{prefix}_gc_gen2": sum(p["gc_gen2"] for p in probes),
        f"{prefix}_gc_max_ms": max(p["gc_max_ms"] for p in probes),
        f"{prefix}_gc_gen2_max_ms": max(p["gc_gen2_max_ms"] for p in probes),
        f"{prefix}_gc_total_ms": sum(p["gc_total_ms"] for p in probes),
    }


async def fanout(ctx: Context, target: Target, run: int) -> Figures:
    """(2) one room broadcast to each size: deliveries/s, latency, loss."""
    figures: Figures = {}
    async with session(ctx, target, f"fanout-{target.key}-{run}") as (server, loadgen):
        total = 0
        for size in ctx.plan.sizes:
            await connect(loadgen, server, ctx, size - total, ROOM)
            total = size
            await burst(ctx, server, loadgen, ctx.plan.warmup_events)
            stats = await burst(ctx, server, loadgen, ctx.plan.fanout_events(size))
            figures.update(delivery_figures(f"fanout.{size}", stats))
    return figures


async def latency(ctx: Context, target: Target, run: int) -> Figures:
    """(2) a paced broadcast (e.g. 1,000 clients at 20 events/s): latency under steady load."""
    plan = ctx.plan
    async with session(ctx, target, f"latency-{target.key}-{run}") as (server, loadgen):
        await connect(loadgen, server, ctx, plan.latency_clients, ROOM)
        await burst(ctx, server, loadgen, plan.warmup_events, plan.latency_rate)
        stats = await burst(ctx, server, loadgen, plan.latency_events(), plan.latency_rate)
    return delivery_figures("latency", stats)


async def single(ctx: Context, target: Target, run: int) -> Figures:
    """(2) the highest rate one client can be sent events at."""
    async with session(ctx, target, f"single-{target.key}-{run}") as (server, loadgen):
        await connect(loadgen, server, ctx, 1, ROOM)
        await burst(ctx, server, loadgen, 100)
        stats = await burst(ctx, server, loadgen, ctx.plan.single_events)
    return delivery_figures("single", stats)
