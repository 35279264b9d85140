"""(issue 12) One client stops reading while the others receive a stream.

Two servers of the same target per run, in alternating order: the same paced
stream (`slow_rate` events/s, `slow_pad` characters each, for `slow_seconds`)
to `slow_clients` clients, once alone and once with one more client that
subscribed and then stopped reading (bench/slow_reader.py, answering pings
blindly). Figures: the server's RSS growth (peak during the stream minus just
before it) in both, whether and when the slow client's connection was closed,
and the others' latency in both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from bench.scenarios import Context, Figures, Skipped, burst, connect, session
from bench.servers.trigger import ROOM
from bench.slow_reader import SlowReader
from bench.targets import Server, Target

ENVELOPE = 250  # characters of an event around its padding, for the "MB streamed" figure


async def _peak_rss_kb(server: Server, done: asyncio.Event) -> int:
    peak = server.rss_kb()
    while not done.is_set():
        peak = max(peak, server.rss_kb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.05)
    return max(peak, server.rss_kb())


async def _stream(ctx: Context, target: Target, name: str, slow: bool) -> dict[str, Any]:
    plan = ctx.plan
    async with session(ctx, target, name) as (server, loadgen):
        await connect(loadgen, server, ctx, plan.slow_clients, ROOM)
        await burst(ctx, server, loadgen, plan.warmup_events)
        reader = None
        if slow:
            token = json.loads(ctx.tokens_file.read_text())[-1]  # a user no load-generator client has
            reader = await SlowReader(server.ws_url, token).open(ROOM)
            reader.stop_reading()
        await asyncio.sleep(plan.settle_s)
        baseline = server.rss_kb()
        done = asyncio.Event()
        started = time.monotonic()
        peak = asyncio.ensure_future(_peak_rss_kb(server, done))
        closed = asyncio.ensure_future(reader.closed_after(started, done)) if reader else None
        try:
            stats = await burst(ctx, server, loadgen, plan.slow_events(), plan.slow_rate, pad=plan.slow_pad)
            if reader is not None:
                deadline = time.monotonic() + 3  # a cut near the end: its TCP reset follows within 1 s
                while reader.connected() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
        finally:
            done.set()
            stats["rss_mb"] = (await peak - baseline) / 1024
            stats["closed_s"] = await closed if closed is not None else None
            if reader is not None:
                await reader.close()
    return stats


async def slow_reader(ctx: Context, target: Target, run: int) -> Figures:
    if not target.is_ours:
        raise Skipped("the slow-consumer limit is ours only")
    results = {}
    for phase in ("alone", "with") if run % 2 == 0 else ("with", "alone"):
        results[phase] = await _stream(ctx, target, f"slow-{target.key}-{run}-{phase}", phase == "with")
    alone, with_slow = results["alone"], results["with"]
    change = None
    if alone["p99_ms"] and with_slow["p99_ms"]:
        change = 100 * (with_slow["p99_ms"] / alone["p99_ms"] - 1)
    plan = ctx.plan
    return {
        "slow.streamed_mb": plan.slow_events() * (plan.slow_pad + ENVELOPE) / 1e6,
        "slow.closed_s": with_slow["closed_s"],
        "slow.alone.rss_mb": alone["rss_mb"],
        "slow.with.rss_mb": with_slow["rss_mb"],
        "slow.rss_extra_mb": with_slow["rss_mb"] - alone["rss_mb"],
        "slow.alone.p50": alone["p50_ms"],
        "slow.with.p50": with_slow["p50_ms"],
        "slow.alone.p99": alone["p99_ms"],
        "slow.with.p99": with_slow["p99_ms"],
        "slow.p99_change_pct": change,
        "slow.alone.lost": alone["lost"],
        "slow.with.lost": with_slow["lost"],
    }
