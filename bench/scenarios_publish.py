"""What one event costs the server, seen from the clients (issue 18).

* `publish.100`: a room of 100 clients, events back to back: deliveries/s
  when the cost per event (not per recipient) dominates.
* `publish.paced`: a room of 5,000 at 20 events/s for 5 s: whether the server
  keeps the pace (how long it took to send what was due in 5 s) and the
  latency it adds while doing so.
"""

from __future__ import annotations

from bench.plan import Plan
from bench.scenarios import Context, Figures, burst, connect, delivery_figures, session
from bench.servers.trigger import ROOM
from bench.targets import Target

SMALL_ROOM = 100
SMALL_EVENTS = 2_000  # 200,000 deliveries
PACED_ROOM = 5_000
PACED_RATE = 20.0
PACED_SECONDS = 5.0


def sizes(plan: Plan) -> tuple[int, int, int]:
    """(small room events, paced room size, paced events), smaller under --quick."""
    if plan.single_events < 10_000:
        return 200, 200, round(PACED_RATE * 1)
    return SMALL_EVENTS, PACED_ROOM, round(PACED_RATE * PACED_SECONDS)


async def publish_pace(ctx: Context, target: Target, run: int) -> Figures:
    small_events, paced_room, paced_events = sizes(ctx.plan)
    figures: Figures = {}
    async with session(ctx, target, f"publish-small-{target.key}-{run}") as (server, loadgen):
        await connect(loadgen, server, ctx, SMALL_ROOM, ROOM)
        await burst(ctx, server, loadgen, 100)
        stats = await burst(ctx, server, loadgen, small_events)
        figures.update(delivery_figures("publish.100", stats))
    async with session(ctx, target, f"publish-paced-{target.key}-{run}") as (server, loadgen):
        await connect(loadgen, server, ctx, paced_room, ROOM)
        await burst(ctx, server, loadgen, ctx.plan.warmup_events)
        stats = await burst(ctx, server, loadgen, paced_events, PACED_RATE)
        figures.update(delivery_figures("publish.paced", stats))
        due = (paced_events - 1) / PACED_RATE
        figures["publish.paced.send_s"] = stats["send_ms"] / 1000
        figures["publish.paced.behind_pct"] = 100 * (stats["send_ms"] / 1000 - due) / due
    return figures
