"""py-spy on our server while N clients connect (or leave).

`python bench/profile_connects.py [N] [disconnect] [KEY=VALUE ...]`

The connect-path counterpart of run.py's `--profile` (which profiles a
fan-out): starts ours as the ramp does, records it with py-spy while N
authenticated clients connect (100 in flight), and prints the same summary
tables as RESULTS.md's profile section. KEY=VALUE pairs are settings for ours
(e.g. GC_TUNING=false). With `disconnect`, the clients connect unprofiled and
py-spy records the mass disconnect of all of them instead. Collapsed stacks go
to bench/.work/profiles/.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root), str(_root / "apps" / "api")]

import asyncio
import os
import secrets

from bench import profiling
from bench.loadgen import ensure_node_modules, mint_tokens
from bench.plan import build_plan
from bench.procs import LOAD_CORES, WORK_DIR, raise_fd_limit
from bench.scenarios import Context, connect, session
from bench.targets import TARGETS


async def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv and argv[0].isdigit() else 5000
    settings = dict(arg.split("=", 1) for arg in argv if "=" in arg)
    leaving = "disconnect" in argv
    plan = build_plan(False, sizes=(count,), runs=1)
    raise_fd_limit(count + 1024)
    os.sched_setaffinity(0, LOAD_CORES)
    ensure_node_modules()
    secret = secrets.token_urlsafe(48)
    ctx = Context(plan, secret, mint_tokens(secret, count + 64))
    output = WORK_DIR / "profiles" / f"ours-{'disconnects' if leaving else 'connects'}-{count}.txt"
    async with session(ctx, TARGETS["ours"], "profile-connects", settings) as (server, loadgen):
        await connect(loadgen, server, ctx, 20, None)
        await loadgen.disconnect_all()
        profiler = profiling.Profiler(server.pid, output)
        if leaving:
            await connect(loadgen, server, ctx, count, None)
            await asyncio.sleep(2)
        await profiler.start()
        try:
            if leaving:
                await server.control("/bench/lag/start")
                closed = await loadgen.disconnect_all()
                await asyncio.sleep(1)
                lag = await server.control("/bench/lag/stop")
                what = f"disconnect in {closed['elapsed_ms']:,.0f} ms, longest stall {lag['max_ms']:,.0f} ms"
            else:
                reply = await connect(loadgen, server, ctx, count, None)
                what = f"connects at {count / (reply['connect_ms'] / 1000):,.0f}/s"
        finally:
            await profiler.stop()
    print(f"{count} {what} under py-spy; stacks: {output}")
    summary = profiling.summarize(output)
    for key, value in summary.items():
        if isinstance(value, list):
            print(f"\n{key}:")
            for row in value[:25]:
                print("  ", row)
        else:
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
