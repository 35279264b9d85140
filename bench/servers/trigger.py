"""The bench-only broadcast trigger every Python server under test shares.

`POST /bench/broadcast?room=R&n=N&rate=E&pad=P` sends N events to room R, E per
second (0: back to back, yielding to the event loop between events so the
server can write while it sends), each carrying its send time as
`bench:<epoch ms>;` followed by P padding characters. It answers when the last
event has been handed to the server's delivery path.

`POST /bench/lag/start` and `POST /bench/lag/stop` measure how late the
server's event loop runs a timer due every 5 ms in between: the longest stall
(`max_ms`) and how many exceeded 100 ms. The Node reference (node_socketio.mjs)
implements the same contract. In the Python servers the probe also times every
cyclic garbage collection in between (`gc.callbacks`): how many, by generation,
the longest and their total, so a stall can be told apart from a collection.

`control_handler()` is the control port of the references that have no HTTP
router of their own (bare websockets, the minimal asyncio protocol).
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_EVENTS = 1_000_000
MAX_PAD = 1_000_000
# The workflow every benchmark event belongs to; clients subscribe to its room.
WORKFLOW_ID = "6f1c2b8e-0d4a-4e43-9a57-3b8f5d2c9e10"
ROOM = f"workflow:{WORKFLOW_ID}"


@dataclass(frozen=True, slots=True)
class Trigger:
    room: str
    n: int
    rate: float
    pad: int

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Trigger:
        """Validate the query string; ValueError names the bad parameter."""
        room = query.get("room", "")
        if not room:
            raise ValueError("room is required")
        try:
            n = int(query.get("n", "1"))
            rate = float(query.get("rate", "0"))
            pad = int(query.get("pad", "0"))
        except ValueError:
            raise ValueError("n and pad must be integers, rate a number") from None
        if not 1 <= n <= MAX_EVENTS:
            raise ValueError(f"n must be 1 to {MAX_EVENTS}")
        if not 0 <= rate <= 1e6 or not 0 <= pad <= MAX_PAD:
            raise ValueError(f"rate must be 0 to 1e6 and pad 0 to {MAX_PAD}")
        return cls(room=room, n=n, rate=rate, pad=pad)


def marker() -> str:
    """The send time the load generator reads back: `bench:<epoch ms>;`."""
    return f"bench:{time.time() * 1000:.3f};"


async def paced(n: int, rate: float, emit: Callable[[int], Awaitable[object]]) -> float:
    """Call `emit(i)` n times at `rate` per second (0: back to back); return elapsed ms."""
    started = time.perf_counter()
    for i in range(n):
        if rate > 0:
            delay = started + i / rate - time.perf_counter()
            await asyncio.sleep(max(delay, 0))
        await emit(i)
        if rate <= 0:
            await asyncio.sleep(0)
    return (time.perf_counter() - started) * 1000


class LagProbe:
    """How late a 5 ms loop timer fires: the event loop's stalls, measured from inside.

    While it runs it also times each cyclic garbage collection (gc.callbacks).
    """

    INTERVAL = 0.005

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.max_ms = 0.0
        self.samples = 0
        self.stalls = 0  # lateness over 100 ms
        self._gc_started = 0.0
        self.gc_ms: list[tuple[int, float]] = []  # (generation, duration) of each collection

    def start(self) -> None:
        self.stop()
        self.max_ms, self.samples, self.stalls = 0.0, 0, 0
        self.gc_ms = []
        gc.callbacks.append(self._gc)
        self._arm()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_ms.append((info["generation"], (time.perf_counter() - self._gc_started) * 1000))

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.INTERVAL
        self._handle = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        late_ms = max(0.0, (asyncio.get_running_loop().time() - self._due) * 1000)
        self.samples += 1
        self.max_ms = max(self.max_ms, late_ms)
        self.stalls += late_ms > 100
        self._arm()

    def stop(self) -> dict[str, float]:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        durations = sorted(ms for _, ms in self.gc_ms)
        return {
            "max_ms": self.max_ms,
            "samples": self.samples,
            "over_100ms": self.stalls,
            "gc_count": len(durations),
            "gc_gen2": sum(1 for generation, _ in self.gc_ms if generation == 2),
            "gc_max_ms": durations[-1] if durations else 0.0,
            "gc_p50_ms": durations[len(durations) // 2] if durations else 0.0,
            "gc_total_ms": sum(durations),
            "gc_gen2_max_ms": max((ms for g, ms in self.gc_ms if g == 2), default=0.0),
        }


SendEvents = Callable[[Trigger], Awaitable[dict[str, Any]]]


def control_handler(
    send_events: SendEvents, probe: LagProbe | None = None
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """Minimal HTTP/1.1 control port: GET /health, POST /bench/lag/*, POST /bench/broadcast."""
    probe = probe or LagProbe()

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method, target = head.split(" ", 2)[:2]
        url = urlsplit(target)
        status: int = 404
        body: dict[str, Any] = {"error": "not found"}
        if url.path == "/health":
            status, body = 200, {"status": "ok"}
        elif url.path == "/bench/lag/start" and method == "POST":
            probe.start()
            status, body = 200, {"started": True}
        elif url.path == "/bench/lag/stop" and method == "POST":
            status, body = 200, probe.stop()
        elif url.path == "/bench/broadcast" and method == "POST":
            try:
                trigger = Trigger.parse(dict(parse_qsl(url.query)))
            except ValueError as exc:
                status, body = 400, {"error": str(exc)}
            else:
                status, body = 200, await send_events(trigger)
        payload = json.dumps(body).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        writer.close()

    return control


def reference_event(room: str, i: int, padding: str) -> dict[str, object]:
    """What the reference servers send: the same shape and size as our envelope."""
    return {
        "id": str(uuid.uuid4()),
        "type": "workflow.progress",
        "room": room,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {
            "workflow_id": WORKFLOW_ID,
            "project_id": None,
            "status": "running",
            "progress": i % 101,
            "current_step": "bench",
            "total_steps": None,
            "step_number": None,
            "message": marker() + padding,
        },
    }
