"""py-spy around one burst of our server, summarised as the hottest functions.

The profile is taken in a separate pass after the measured runs, so the
sampling overhead never touches a reported figure.

Read it with py-spy's bias in mind: it stops the process to take each
sample, and a thread inside a system call stops when the call returns, so
samples pile up on `write()`. In the paced 5,000-client case it put 95 % of
the samples in `write()` while `perf record` (cpu-clock, kernel stacks) put
37 % of the server's CPU in libpython: the per-delivery Python work that the
frame lanes (apps/api/websocket/internals/ws_frames.py) then removed. For the
split between the kernel and Python, use `perf record -g -p <server pid>`.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procs import BENCH_DIR, LOAD_CORES, WORK_DIR, pinned, say
from bench.scenarios import Context, burst, connect, session
from bench.servers.trigger import ROOM
from bench.targets import TARGETS

FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record --native` attached to a running server until stopped."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed (pip install -r requirements-dev.txt)")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        argv = [binary, "record", "--pid", str(self.pid), "--native", "--rate", "200"]
        self.proc = await asyncio.create_subprocess_exec(
            *pinned(LOAD_CORES, [*argv, "--format", "raw", "--output", str(self.output)]),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.5)  # let it attach before the work starts
        if self.proc.returncode is not None:
            raise RuntimeError(f"py-spy exited: {await self._stderr()}")

    async def _stderr(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode(errors="replace").strip()[-500:]

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {await self._stderr()}")


def short(frame: str) -> tuple[str, bool]:
    """`name (…/pkg/module.py:123)` -> (`name (pkg/module.py)`, is a Python frame)."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), False
    parts = Path(match["file"]).parts
    return f"{match['name']} ({'/'.join(parts[-2:])})", match["file"].endswith(".py")


def is_gc(frame: str) -> bool:
    return frame.startswith(("gc_collect", "collect (")) or "gcmodule.c" in frame


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """The hottest functions in py-spy's collapsed stacks, several ways.

    * python: the innermost Python function of each sample (its own code and
      the C it calls), the most useful view for deciding what to rewrite;
      samples below the event loop's own frames (task steps, callbacks) are
      grouped as such;
    * leaf: the innermost frame, native included (syscalls, allocation, GC);
    * inclusive: Python functions with everything below them, leaving out the
      event-loop scaffolding present in (nearly) every sample;
    * gc / gc_callers: the share of samples inside CPython's cyclic garbage
      collector, and the frames that triggered it.
    """
    stacks: list[tuple[list[tuple[str, bool]], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            stacks.append(([short(f) for f in stack.split(";")], int(count_text)))
    total = sum(count for _, count in stacks)
    if not total:
        return {"samples": 0, "gc": 0.0, "python": [], "leaf": [], "inclusive": [], "gc_callers": []}
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        for name in {name for name, is_python in frames if is_python}:
            inclusive[name] += count
    scaffold = {name for name, n in inclusive.items() if n >= 0.98 * total}
    python: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    gc_callers: Counter[str] = Counter()
    for frames, count in stacks:
        leaf[frames[-1][0]] += count
        own = [name for name, is_python in frames if is_python]
        innermost = own[-1] if own else ""
        python[innermost if innermost not in scaffold else "(event loop: task steps and callbacks)"] += count
        gc_at = next((i for i, (name, _) in enumerate(frames) if is_gc(name)), None)
        if gc_at is not None:
            gc_callers[frames[gc_at - 1][0] if gc_at else "?"] += count

    def pct(counter: Counter[str], limit: int = top) -> list[tuple[float, str]]:
        ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit]  # stable on ties
        return [(100 * n / total, name) for name, n in ranked]

    return {
        "samples": total,
        "gc": 100 * sum(gc_callers.values()) / total,
        "python": pct(python),
        "leaf": pct(leaf),
        "inclusive": pct(Counter({k: n for k, n in inclusive.items() if k not in scaffold})),
        "gc_callers": pct(gc_callers, 5),
    }


async def profile_fanout(ctx: Context) -> dict[str, Any]:
    """One extra fan-out burst of ours under py-spy (not part of any reported figure)."""
    size = ctx.plan.profile_size
    events = 3 * ctx.plan.fanout_events(size)  # a longer burst than measured: more samples
    output = WORK_DIR / "profiles" / f"ours-fanout-{size}.txt"
    what = (
        f"py-spy 200 Hz (`--native`) on our server during a fan-out of {events} events to {size:,} clients "
        "(py-spy counts a sample taken inside a system call at the call: see bench/profiling.py), "
        "in a separate pass after the measured runs. Collapsed stacks: "
        f"`{output.relative_to(BENCH_DIR.parent)}`."
    )
    try:
        async with session(ctx, TARGETS["ours"], "profile-ours") as (server, loadgen):
            await connect(loadgen, server, ctx, size, ROOM)
            await burst(ctx, server, loadgen, ctx.plan.warmup_events)
            profiler = Profiler(server.pid, output)
            await profiler.start()
            try:
                stats = await burst(ctx, server, loadgen, events)
            finally:
                await profiler.stop()
        say(f"  profiled at {stats['deliveries_per_s'] or 0:,.0f} deliveries/s")
        return {"what": what, "file": str(output), **summarize(output)}
    except Exception as exc:
        say(f"  profiling failed: {exc}")
        return {"what": what, "error": f"{type(exc).__name__}: {exc}"}
