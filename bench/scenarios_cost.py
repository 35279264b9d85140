"""The CPU one published event costs before delivery (issue 18): bench/publish_cost.py per tree.

Runs the microbenchmark in a child process pinned to the server core, with
the tree of the target on its path: `ours` is this checkout, `ours before`
the `--before` ref, so the two rows are the same benchmark on two trees.
Only our own targets have these steps; the references are not run. The
harness starts a Redis for this scenario: publishing through it (a worker's
path, one round trip per call) is measured too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from bench.procs import BENCH_DIR, ROOT, SERVER_CORES, pinned
from bench.scenarios import Context, Figures, Skipped
from bench.targets import Target

EVENTS = 20_000
QUICK_EVENTS = 2_000


async def publish_cost(ctx: Context, target: Target, run: int) -> Figures:
    if not target.is_ours:
        raise Skipped("the publish steps are ours")
    events = QUICK_EVENTS if ctx.plan.single_events < 10_000 else EVENTS
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target.api_dir(ctx.before_ref)), str(ROOT)])
    argv = [sys.executable, str(BENCH_DIR / "publish_cost.py"), "--events", str(events), "--json", "-"]
    if ctx.redis is not None:
        argv += ["--redis-url", ctx.redis.url]
    proc = await asyncio.create_subprocess_exec(
        *pinned(SERVER_CORES, argv),
        cwd=str(target.api_dir(ctx.before_ref)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"publish_cost.py exited {proc.returncode}: {err.decode(errors='replace')[-300:]}")
    steps: dict[str, float | None] = json.loads(out.decode().strip().splitlines()[-1])
    return {f"cost.{key}": value for key, value in steps.items()}
