"""uvicorn reached directly: slow headers, stalled and trickled bodies, concurrency, keep-alive.

Each abusive client talks raw TCP to a real `python main.py`; a normal client
is served meanwhile, and Socket.IO clients (a held long-poll, an idle
WebSocket) are not mistaken for slow ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.clients import Client
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.servers import ServerProcess
from tests.support.tokens import token

TIMEOUT = 1.0  # HTTP_HEADER_TIMEOUT and HTTP_BODY_TIMEOUT here
KEEPALIVE = 2  # HTTP_KEEPALIVE_TIMEOUT here
SLACK = 1.0  # scheduling on a loaded machine, and the test's own polling
PUBLISH = token("publisher", scopes=["events:publish"])
SOURCES = itertools.count(10)  # 127.0.0.10, .11, ...: a loopback address per raw peer


@pytest.fixture(scope="module")
async def front() -> AsyncIterator[ServerProcess]:
    server = ServerProcess(
        http_header_timeout=TIMEOUT, http_body_timeout=TIMEOUT, http_body_min_rate=100,
        http_keepalive_timeout=KEEPALIVE,
    )  # fmt: skip
    await server.start()
    yield server
    await server.stop()


class Peer:
    """A raw TCP client; `outcome()` reads until the server closes: (what it sent, seconds it took)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.opened = time.monotonic()

    @classmethod
    async def open(cls, server: ServerProcess) -> Peer:
        # Each peer from an address of its own: the audit trail writes the first refusal of a
        # kind from an address at once and only counts its repeats (websocket/audit.py).
        source = f"127.0.0.{next(SOURCES)}"
        return cls(*await asyncio.open_connection("127.0.0.1", server.port, local_addr=(source, 0)))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def trickle(self, data: bytes, every: float) -> None:
        """Send `data` a byte at a time until the server closes the connection."""
        with contextlib.suppress(ConnectionError):
            for byte in data:
                await self.send(bytes([byte]))
                await asyncio.sleep(every)

    async def outcome(self, limit: float = 10) -> tuple[bytes, float]:
        received = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(self.reader.read(65536), limit):
                received += chunk
        took = time.monotonic() - self.opened
        self.writer.close()
        return received, took


async def served_meanwhile(server: ServerProcess, stop: asyncio.Event) -> list[int]:
    """A well-behaved client: GET /health every 50 ms until `stop`; the statuses it got."""
    statuses = []
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        while not stop.is_set():
            statuses.append((await http.get("/health")).status_code)
            await asyncio.sleep(0.05)
    return statuses


def timeouts_logged(server: ServerProcess, phase: str) -> list[dict[str, object]]:
    return [r for r in server.records() if r.get("event") == "request_timeout" and r.get("phase") == phase]


async def test_slow_headers_are_cut_within_the_header_timeout(front: ServerProcess) -> None:
    polling = await Client().connect(front.url, token("poller"), transports=["polling"])
    websocket = await Client().connect(front.url, token("websocket"), transports=["websocket"])
    before = len(timeouts_logged(front, "headers"))
    stop = asyncio.Event()
    normal = asyncio.create_task(served_meanwhile(front, stop))

    silent = await Peer.open(front)  # connects, never sends a byte
    half = await Peer.open(front)  # half a request line, then waits
    await half.send(b"GET /health HTT")
    slowloris = await Peer.open(front)  # every byte in time for a per-byte timer, never done
    trickle = asyncio.create_task(
        slowloris.trickle(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-a: b\r\n" * 100, every=0.2)
    )
    results = await asyncio.gather(silent.outcome(), half.outcome(), slowloris.outcome())
    await trickle
    stop.set()
    statuses = await normal

    (nothing, silent_took), (answer, half_took), (slow_answer, slow_took) = results
    assert nothing == b""  # an idle connection (a browser's preconnect) is closed without a word
    assert answer.startswith(b"HTTP/1.1 408 ") and slow_answer.startswith(b"HTTP/1.1 408 ")
    for took in (silent_took, half_took, slow_took):
        assert TIMEOUT - 0.1 <= took < TIMEOUT + SLACK, took
    assert statuses and set(statuses) == {200}, statuses
    # Held long-polls and an idle WebSocket are past their headers: still connected, still served.
    for client in (polling, websocket):
        assert client.sio.connected
        await client.subscribe(f"project:{uuid.uuid4()}")
    await eventually(lambda: len(timeouts_logged(front, "headers")) == before + 2)
    record(
        "slow headers (uvicorn direct)",
        f"silent, half a request line, a header trickle: cut after {silent_took:.2f}, {half_took:.2f}, "
        f"{slow_took:.2f} s (HTTP_HEADER_TIMEOUT {TIMEOUT:g} s); {len(statuses)} of {len(statuses)} "
        "/health requests served meanwhile",
    )
    assert front.trouble() == []
    await polling.close()
    await websocket.close()


def publish_head(length: int) -> bytes:
    return (
        b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + PUBLISH.encode() + b"\r\n"
        b"Expect: 100-continue\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n"
    )


async def in_flight(peer: Peer) -> None:
    """uvicorn says "100 Continue" when the application first asks for the body."""
    assert (await asyncio.wait_for(peer.reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 100")
    peer.opened = time.monotonic()  # the body's clock starts here


async def test_stalled_and_trickled_bodies_are_cut_within_the_body_timeout(front: ServerProcess) -> None:
    before = len(timeouts_logged(front, "body"))
    stop = asyncio.Event()
    normal = asyncio.create_task(served_meanwhile(front, stop))
    stalled, trickled = await Peer.open(front), await Peer.open(front)
    for peer in (stalled, trickled):
        await peer.send(publish_head(1000))
        await in_flight(peer)
    await stalled.send(b'{"type": ')  # ...and nothing more
    # A byte every 0.2 s: each in time for the stall timer, but 5 bytes/s against a minimum of 100.
    trickle = asyncio.create_task(trickled.trickle(b"x" * 1000, every=0.2))
    (stalled_answer, stalled_took), (trickled_answer, trickled_took) = await asyncio.gather(
        stalled.outcome(), trickled.outcome()
    )
    await trickle
    stop.set()
    statuses = await normal

    for answer, took in ((stalled_answer, stalled_took), (trickled_answer, trickled_took)):
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"REQUEST_TIMEOUT" in answer
        assert TIMEOUT - 0.1 <= took < TIMEOUT + SLACK, took
    assert statuses and set(statuses) == {200}, statuses
    await eventually(lambda: len(timeouts_logged(front, "body")) == before + 2)
    record(
        "slow bodies (uvicorn direct)",
        f"stalled, trickled at 5 bytes/s: cut after {stalled_took:.2f}, {trickled_took:.2f} s "
        f"(HTTP_BODY_TIMEOUT {TIMEOUT:g} s, HTTP_BODY_MIN_RATE 100); {len(statuses)} of {len(statuses)} "
        "/health requests served meanwhile",
    )
    reasons = sorted(str(r["reason"]) for r in timeouts_logged(front, "body")[before:])
    assert reasons == ["stalled", "too slow"]
    assert front.trouble() == []  # no "Exception in ASGI application" from the route told to stop


async def test_a_body_trickled_after_an_early_answer_is_cut(front: ServerProcess) -> None:
    # 413 without reading (declared size over the limit); uvicorn keeps the connection
    # and reads what follows as the rest of that body, disarming its keep-alive timer each time.
    peer = await Peer.open(front)
    await peer.send(publish_head(10**9).replace(b"Expect: 100-continue\r\n", b""))
    trickle = asyncio.create_task(peer.trickle(b"x" * 1000, every=0.1))
    answer, took = await peer.outcome()
    await trickle
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert took < TIMEOUT + SLACK, took


async def test_idle_keep_alive_connections_close_after_the_keepalive_timeout(front: ServerProcess) -> None:
    peer = await Peer.open(front)
    await peer.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    answer, took = await peer.outcome()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert KEEPALIVE - 0.1 <= took < KEEPALIVE + SLACK, took  # not cut by the header timeout


async def health(server: ServerProcess) -> int:
    """GET /health on a connection of its own; the status."""
    peer = await Peer.open(server)
    await peer.send(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer, _ = await peer.outcome()
    return int(answer.split(b" ", 2)[1])


async def test_over_limit_concurrency_uvicorn_answers_503_until_slots_free() -> None:
    limit = 6
    server = await ServerProcess(max_connections=4, limit_concurrency=limit, http_body_timeout=30).start()
    held: list[Peer] = []
    try:
        assert await health(server) == 200
        for _ in range(limit - 1):  # requests in flight, each waiting for its body
            peer = await Peer.open(server)
            held.append(peer)
            await peer.send(publish_head(1000))
            await in_flight(peer)
        # uvicorn counts the asking connection too: this one is the sixth.
        assert await health(server) == 503
        for peer in held:
            peer.writer.close()
        await eventually(lambda: _is_ok(server), timeout=5)
    finally:
        await server.stop()


async def _is_ok(server: ServerProcess) -> bool:
    return await health(server) == 200
