"""py-spy around one burst of our server, summarised as the hottest functions.

The profile is taken in a separate pass after the measured runs, so the
sampling overhead never touches a reported figure.
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

from bench.procs import LOAD_CORES, pinned

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


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """The hottest functions in py-spy's collapsed stacks, three ways.

    * python: the innermost Python function of each sample (its own code and
      the C it calls), the most useful view for deciding what to rewrite;
    * leaf: the innermost frame, native included (syscalls, allocation, GC);
    * inclusive: Python functions with everything below them, leaving out the
      event-loop scaffolding present in (nearly) every sample.
    """
    python: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = gc_samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")]
        total += count
        leaf[frames[-1][0]] += count
        own_python = [name for name, is_python in frames if is_python]
        python[own_python[-1] if own_python else "(no Python frame)"] += count
        for name in set(own_python):
            inclusive[name] += count
        if "gcmodule.c" in stack:
            gc_samples += count
    if not total:
        return {"samples": 0, "gc": 0.0, "python": [], "leaf": [], "inclusive": []}

    def pct(counter: Counter[str]) -> list[tuple[float, str]]:
        return [(100 * n / total, name) for name, n in counter.most_common(top)]

    inclusive = Counter({name: n for name, n in inclusive.items() if n < 0.98 * total})
    return {
        "samples": total,
        "gc": 100 * gc_samples / total,
        "python": pct(python),
        "leaf": pct(leaf),
        "inclusive": pct(inclusive),
    }
