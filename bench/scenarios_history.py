"""(5) What keeping history for resume (issue 6) costs: events/s with it on and off.

The same room broadcast (back to back, `history_events` events to
`history_clients` clients) runs against four servers of the same target in
one run: in memory and through Redis, each with the default history
(`HISTORY_SIZE=200`) and with none (`HISTORY_SIZE=0`, offsets only). The
order of on/off alternates between runs so drift does not favour either.
events/s = deliveries/s ÷ clients, as the clients saw them.
"""

from __future__ import annotations

import time

from bench.scenarios import Context, Figures, Skipped, burst, connect, session
from bench.servers.trigger import ROOM
from bench.targets import RedisLink, Target

SIZES = {"on": "200", "off": "0"}


async def _events_per_s(ctx: Context, target: Target, name: str, settings: dict[str, str]) -> float:
    plan = ctx.plan
    async with session(ctx, target, name, settings) as (server, loadgen):
        await connect(loadgen, server, ctx, plan.history_clients, ROOM)
        await burst(ctx, server, loadgen, plan.warmup_events)
        stats = await burst(ctx, server, loadgen, plan.history_events)
    if stats["lost"]:
        raise RuntimeError(f"{name}: {stats['lost']} events lost")
    return float(stats["deliveries_per_s"]) / float(stats["clients"])


async def history(ctx: Context, target: Target, run: int) -> Figures:
    if not target.is_ours:
        raise Skipped("no event history")
    figures: Figures = {}
    for mode in ("memory", "redis"):
        rates: dict[str, float] = {}
        for state in ("on", "off") if run % 2 == 0 else ("off", "on"):
            settings = {"HISTORY_SIZE": SIZES[state]}
            if mode == "redis":
                channel = f"bench-history-{target.key}-{run}-{state}-{time.monotonic_ns()}"
                link = RedisLink(ctx.redis.url, channel)
                settings |= {"REDIS_URL": link.url, "SOCKETIO_CHANNEL": channel, "REDIS_KEY_PREFIX": channel}
            name = f"history-{target.key}-{run}-{mode}-{state}"
            rates[state] = await _events_per_s(ctx, target, name, settings)
        figures[f"history.{mode}.on"] = rates["on"]
        figures[f"history.{mode}.off"] = rates["off"]
        figures[f"history.{mode}.slower_pct"] = 100 * (1 - rates["on"] / rates["off"])
    return figures
