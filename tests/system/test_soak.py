"""A bounded soak: a minute of garbage, floods and idle handshakes beside honest clients.

Loopback only. Honest clients (WebSocket and long-polling) subscribe to a
project while a publisher updates it 20 times a second; meanwhile garbage
clients send malformed frames and nonsense commands, flooders fire commands
until they are disconnected (and come back), and idlers open Engine.IO
sessions they never use. Every event meant for an honest client must arrive,
in order; the server's memory must come back near its baseline once the
abuse stops. The figures are printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
import websockets

from tests.support.audit import audit_lines, refusals
from tests.support.clients import Client, ConnectRefused
from tests.support.figures import record
from tests.support.frames import FRAMES
from tests.support.net import eventually
from tests.support.raw import EngineIOClosed, RawSocket
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from tests.support.traffic import publish_until

SECONDS = float(os.environ.get("SOAK_SECONDS", "50"))
READ = ("projects:read",)
HONEST_WEBSOCKET, HONEST_POLLING = 15, 5
GARBAGE, FLOODERS, IDLERS = 5, 3, 2
SMALL_FRAMES = [f for kind, frames in FRAMES.items() if kind != "oversized" for f in frames]
BAD_COMMANDS = [
    '2/ws,1["subscribe",{"room":"project:not-a-uuid"}]', '2/ws,2["subscribe",42]',
    '2/ws,3["auth.refresh",{"token":"forged.token.here"}]', '2/ws,4["no-such-command",{}]',
    '2/ws,5["subscribe",{"room":"user:someone-else"}]', '2/ws,6["unsubscribe",{"room":"global"}]',
]  # fmt: skip


@dataclass
class Tally:
    bad_inputs: int = 0
    garbage_reconnects: int = 0
    flood_commands: int = 0
    flood_disconnects: int = 0
    idle_sessions: int = 0
    rss_mb: list[float] = field(default_factory=list)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def garbage(server: ServerProcess, stop: asyncio.Event, tally: Tally) -> None:
    rng = random.Random()
    while not stop.is_set():
        try:
            async with RawSocket(server.url, token(f"garbage-{rng.randrange(1000)}")) as raw:
                while not stop.is_set():
                    choice = rng.random()
                    if choice < 0.4:
                        await raw.send_frame(rng.choice(SMALL_FRAMES))
                    elif choice < 0.8:
                        await raw.send_packet(rng.choice(BAD_COMMANDS))
                    else:
                        await raw.send_frame(rng.randbytes(rng.randrange(1, 64)).decode("latin-1"))
                    tally.bad_inputs += 1
                    await asyncio.sleep(0.02)
                    if raw.ws.close_code is not None:
                        break
        except (websockets.exceptions.WebSocketException, EngineIOClosed, OSError, TimeoutError):
            pass
        tally.garbage_reconnects += 1


async def flooder(server: ServerProcess, stop: asyncio.Event, tally: Tally, n: int) -> None:
    while not stop.is_set():
        client = Client()
        try:
            await client.connect(server.url, token(f"flooder-{n}"), transports=["websocket"])
            while client.sio.connected and not stop.is_set():
                for _ in range(50):
                    await client.emit("debug:rooms", {})
                tally.flood_commands += 50
                await asyncio.sleep(0.05)
            if client.received("connection.error"):
                tally.flood_disconnects += 1
        except ConnectRefused:
            await asyncio.sleep(0.2)
        finally:
            await client.close()


async def idler(server: ServerProcess, stop: asyncio.Event, tally: Tally) -> None:
    url = server.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"
    while not stop.is_set():
        async with websockets.connect(url) as ws:  # a handshake, then nothing
            await ws.recv()
            tally.idle_sessions += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), 3)


async def sample_memory(pid: int, stop: asyncio.Event, tally: Tally) -> None:
    while not stop.is_set():
        tally.rss_mb.append(rss_mb(pid))
        await asyncio.sleep(0.5)


async def connections(server: ServerProcess) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(server.url + "/health", timeout=10)).json()["connections"])


@pytest.mark.slow
async def test_soak_honest_clients_lose_nothing() -> None:
    server = await ServerProcess(connect_timeout=2, log_level="WARNING", audit_summary_interval=5).start()
    assert server.proc is not None
    pid = server.proc.pid
    project = uuid.uuid4()
    honest = [Client() for _ in range(HONEST_WEBSOCKET + HONEST_POLLING)]
    tally, sent = Tally(), []
    try:
        for i, client in enumerate(honest):
            transports = ["websocket"] if i < HONEST_WEBSOCKET else ["polling"]
            await client.connect(server.url, token(f"honest-{i}", scopes=READ), transports=transports)
            await client.subscribe(f"project:{project}")
        calm = asyncio.Event()
        warmup = asyncio.create_task(publish_until(server, project, calm, sent))
        await asyncio.sleep(3)
        baseline = rss_mb(pid)

        stop = asyncio.Event()
        attackers = [
            *(asyncio.create_task(garbage(server, stop, tally)) for _ in range(GARBAGE)),
            *(asyncio.create_task(flooder(server, stop, tally, n)) for n in range(FLOODERS)),
            *(asyncio.create_task(idler(server, stop, tally)) for _ in range(IDLERS)),
            asyncio.create_task(sample_memory(pid, stop, tally)),
        ]
        started = time.monotonic()
        await asyncio.sleep(SECONDS)
        stop.set()
        await asyncio.gather(*attackers)
        calm.set()
        await warmup
        soaked = time.monotonic() - started

        for client in honest:
            await client.wait_count("project.updated", len(sent), timeout=60)
            received = [event["data"]["project_name"] for event in client.received("project.updated")]
            assert received == sent, "an honest client lost or reordered events"
            assert client.sio.connected and client.disconnect_reasons == []
        await eventually(lambda: _settled(server, len(honest)), timeout=30)
        await asyncio.sleep(2)
        after = rss_mb(pid)
        peak = max(tally.rss_mb, default=after)
        half = len(tally.rss_mb) // 2
        first_half, second_half = max(tally.rss_mb[:half]), max(tally.rss_mb[half:])
        # CPython keeps freed memory in its arenas, so RSS settles rather than
        # falls; what matters is that it stops growing (no leak) and stays close.
        assert second_half - first_half <= 8, (first_half, second_half)
        assert after <= baseline + 30, (baseline, peak, after)
        assert server.trouble() == [], server.trouble()[:5]
    finally:
        for client in honest:
            await client.close()
        await server.stop()  # writes the audit summaries still counting
    lines = audit_lines(server.records())
    refused = refusals(lines)
    # Every flooder that was cut off is in the audit trail, and the trail is summaries, not a flood.
    assert refusals(lines, lambda line: line["event"] == "websocket_flooding") >= tally.flood_disconnects
    assert 2 * len(lines) < refused, (len(lines), refused)
    expected = len(sent) * len(honest)
    record(
        "soak",
        f"{soaked:.0f} s: {tally.bad_inputs:,} malformed frames and bad commands "
        f"({tally.garbage_reconnects} garbage reconnects), {tally.flood_commands:,} flood commands "
        f"({tally.flood_disconnects} flooders disconnected), {tally.idle_sessions} idle handshakes; "
        f"{refused:,} refusals audited in {len(lines):,} lines; honest events expected {expected:,}, "
        f"received {expected:,} (lost 0); server RSS baseline {baseline:.0f} MB, peak {peak:.0f} MB "
        f"(first half {first_half:.0f}, second half {second_half:.0f}), after {after:.0f} MB",
    )


async def _settled(server: ServerProcess, honest: int) -> bool:
    return await connections(server) == honest
