"""(6) A handshake flood from one address beside honest clients (issue 12).

One address (127.0.0.2) opens Engine.IO handshakes as fast as bench/flood.py
can, half polling, half WebSocket held open, none of them ever joining a
namespace. Meanwhile honest clients from another address (127.0.0.3) connect
one after another at `flood_probe_rate` per second, each with its own valid
token, over a raw WebSocket (handshake, then `40/ws` and its answer), and stay
connected until the phase ends. The same honest connects are timed first
without the flood. Figures: the flood's rate (offered, refused), how many
sessions it got, the server's CPU, and the honest connect times (p50, p99,
max, failures) without and with the flood.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import websockets

from bench.procs import LOAD_CORES, ROOT, pinned
from bench.scenarios import Context, Figures, Skipped
from bench.targets import Server, Target

FLOODER, HONEST = "127.0.0.2", "127.0.0.3"
CONNECT_TIMEOUT_S = 5  # an honest connect slower than this counts as failed


def percentile(sorted_ms: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, max(0, round(pct / 100 * len(sorted_ms)) - 1))]


async def connect_once(server: Server, token: str) -> Any:
    """One honest client: the Engine.IO handshake, then `/ws` with its token; the open WebSocket."""
    ws = await websockets.connect(server.ws_url, local_addr=(HONEST, 0), max_size=None)
    try:
        opened = await ws.recv()
        if not str(opened).startswith("0{"):
            raise RuntimeError(f"no Engine.IO OPEN: {str(opened)[:80]}")
        await ws.send("40/ws," + json.dumps({"token": token}))
        while True:
            frame = str(await ws.recv())
            if frame.startswith("40/ws,"):
                return ws
            if frame.startswith("44/ws,"):
                raise RuntimeError(f"refused: {frame[:200]}")
    except BaseException:
        await ws.close()
        raise


async def honest_connects(
    server: Server, tokens: list[str], rate: float, seconds: float
) -> tuple[list[float], int]:
    """Connect one honest client every 1/rate s for `seconds`: (connect times in ms, sorted; failures)."""
    times: list[float] = []
    failed = 0
    held: list[Any] = []
    started = time.monotonic()
    n = 0
    try:
        while time.monotonic() - started < seconds:
            began = time.monotonic()
            try:
                ws = await asyncio.wait_for(connect_once(server, tokens[n % len(tokens)]), CONNECT_TIMEOUT_S)
                times.append(1000 * (time.monotonic() - began))
                held.append(ws)
            except (OSError, RuntimeError, TimeoutError, websockets.exceptions.WebSocketException):
                failed += 1
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
    finally:
        await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    return sorted(times), failed


async def flood(ctx: Context, target: Target, run: int) -> Figures:
    if not target.is_ours:
        raise Skipped("measures our handshake limits (the references have none to measure)")
    plan = ctx.plan
    tokens: list[str] = json.loads(ctx.tokens_file.read_text())
    half = len(tokens) // 2  # the two phases use different users
    server = await Server(target, f"flood-{target.key}-{run}", before_ref=ctx.before_ref).start(ctx.secret)
    try:
        quiet, quiet_failed = await honest_connects(
            server, tokens[:half], plan.flood_probe_rate, plan.flood_seconds
        )
        flooder = await asyncio.create_subprocess_exec(
            *pinned(LOAD_CORES, [
                sys.executable, "-m", "bench.flood", "--url", f"http://127.0.0.1:{server.port}",
                "--source", FLOODER, "--seconds", str(plan.flood_seconds + 2), "--max-held", "1000",
            ]),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        cpu, began = server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(1)  # the flood is at full rate, its pending slots taken
        flooded, flooded_failed = await honest_connects(
            server, tokens[half:], plan.flood_probe_rate, plan.flood_seconds
        )
        output, _ = await flooder.communicate()
        server_cpu = 100 * (server.cpu_seconds() - cpu) / (time.monotonic() - began)
    finally:
        await server.stop()
    stats = json.loads(output.decode().strip().splitlines()[-1])
    refused = sum(stats["refused"].values())
    return {
        "flood.offered_rate": stats["rate"],
        "flood.refused_rate": refused / stats["seconds"],
        "flood.accepted": stats["accepted"],
        "flood.errors": stats["errors"],
        "flood.server_cpu": server_cpu,
        "flood.quiet_p50": percentile(quiet, 50),
        "flood.quiet_p99": percentile(quiet, 99),
        "flood.quiet_max": quiet[-1] if quiet else None,
        "flood.quiet_failed": quiet_failed,
        "flood.flooded_p50": percentile(flooded, 50),
        "flood.flooded_p99": percentile(flooded, 99),
        "flood.flooded_max": flooded[-1] if flooded else None,
        "flood.flooded_failed": flooded_failed,
    }
