"""Draining an instance on SIGTERM: finish what is in flight, say goodbye, close.

The order, all within `SHUTDOWN_TIMEOUT` seconds (the listening socket is
already closed when `Drain.run()` starts, see `serving.GracefulServer`):

1. refuse new Socket.IO connections (`SERVER_SHUTTING_DOWN`, retryable);
2. let REST requests in progress finish, background tasks included, since
   they may still broadcast, and answer new ones 503 (`RequestTracker`);
3. let broadcasts in progress finish (`TrackedTransport`); with Redis, also
   wait until this instance has heard back its own last publication, so every
   event it sent is delivered to its own clients before they are closed;
4. send each connection `server.shutdown` with a reconnect delay spread over
   a few seconds, then close its Engine.IO session cleanly (a CLOSE packet:
   socket.io-client reconnects on its own, to another instance).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from logging_setup import get_logger
from websocket import jsonlib
from websocket.envelope import OutboundEvent
from websocket.models import ServerShutdown

log = get_logger("websocket.shutdown")

BARRIER_METHOD = "eventserver.barrier"
RECONNECT_DELAY_MS = (1_000, 5_000)
SHUTDOWN_REASON = "server shutdown"  # Engine.IO has no reason of its own for this


class InFlight:
    """Counts work in progress; `idle()` waits until there is none.

    `closed` says that no new work should start (the instance is draining).
    """

    def __init__(self) -> None:
        self.count = 0
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        self.count += 1
        self._idle.clear()

    def __exit__(self, *exc: object) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()


class TrackedTransport:
    """Wraps the broadcaster's transport to know which sends are still running."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.in_flight = InFlight()

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        with self.in_flight:
            return bool(await self.inner.send(event, rooms))

    async def control(self, message: dict[str, Any]) -> bool:
        with self.in_flight:
            return bool(await self.inner.control(message))

    async def aclose(self) -> None:
        await self.inner.aclose()


SHUTTING_DOWN = jsonlib.dumpb(
    {"detail": {"code": "SERVER_SHUTTING_DOWN", "message": "This instance is shutting down; retry elsewhere"}}
)


class RequestTracker:
    """ASGI middleware counting HTTP requests in progress, except Engine.IO's own.

    Once the drain has begun, new REST requests are answered 503 (connections
    stay open so that long-polling clients can still collect their goodbye).
    """

    def __init__(self, app: ASGIApp, skip_prefixes: tuple[str, ...], in_flight: InFlight) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        if self.in_flight.closed:
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"), (b"connection", b"close"), (b"retry-after", b"1"),
            ]})  # fmt: skip
            await send({"type": "http.response.body", "body": SHUTTING_DOWN})
            return
        with self.in_flight:
            await self.app(scope, receive, send)


class RedisBarrier:
    """Publishes a marker and waits for it to come back through this instance's subscription.

    Publications from one connection arrive in order, so once the marker is
    back, every event this instance published before it has been delivered here.
    """

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self._waiting: dict[str, asyncio.Future[None]] = {}
        manager.on_control(BARRIER_METHOD, self._heard)

    async def _heard(self, message: dict[str, Any]) -> None:
        future = self._waiting.pop(str(message.get("token")), None)
        if future is not None and not future.done():
            future.set_result(None)

    async def __call__(self) -> None:
        token = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            message = {"method": BARRIER_METHOD, "host_id": self.manager.host_id, "token": token}
            await self.manager.publisher.publish(jsonlib.dumpb(message))
            await future
        finally:
            self._waiting.pop(token, None)


class Drain:
    def __init__(
        self,
        *,
        sio: Any,
        handlers: Any,
        transport: TrackedTransport,
        requests: InFlight,
        timeout: float,
        barrier: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.sio = sio
        self.handlers = handlers
        self.transport = transport
        self.requests = requests
        self.timeout = timeout
        self.barrier = barrier
        self._done: asyncio.Future[None] | None = None

    async def run(self, late: bool = False) -> None:
        """Drain once; later calls wait for the first one.

        `late`: called from the lifespan shutdown of a server that is not a
        `GracefulServer` (plain `uvicorn main:create_app`), which has already
        closed the WebSockets: close what is left without waiting on clients.
        """
        if self._done is not None:
            await asyncio.shield(self._done)
            return
        self._done = asyncio.get_running_loop().create_future()
        try:
            await self._drain(late)
        finally:
            self._done.set_result(None)

    async def _drain(self, late: bool) -> None:
        started = time.monotonic()
        deadline = started + self.timeout
        self.handlers.accepting = False
        self.requests.closed = True
        log.info(
            "shutdown_started",
            connections=len(self.handlers.registry),
            requests_in_flight=self.requests.count,
            broadcasts_in_flight=self.transport.in_flight.count,
            timeout_s=self.timeout,
        )
        # Half the budget for work in progress, the rest for goodbyes.
        finished = await _within(self._finish_in_flight(), started + self.timeout / 2 - time.monotonic())
        told = await self._tell_all()
        closed = await self._close_all(deadline, wait=not late)
        log.info(
            "shutdown_drained",
            in_flight_finished=finished,
            told=told,
            closed=closed,
            left_open=sum(1 for socket in self.sio.eio.sockets.values() if not socket.closed),
            duration_s=round(time.monotonic() - started, 3),
        )

    async def _finish_in_flight(self) -> None:
        await self.requests.idle()
        await self.transport.in_flight.idle()
        if self.barrier is not None:
            await self.barrier()

    async def _tell_all(self) -> int:
        told = 0
        for conn in self.handlers.registry:
            payload = ServerShutdown(
                reason="This instance is shutting down",
                reconnect_delay_ms=random.randint(*RECONNECT_DELAY_MS),
            )
            with contextlib.suppress(Exception):
                await self.handlers.send_to(conn.sid, OutboundEvent.create(payload))
                told += 1
        return told

    async def _close_all(self, deadline: float, wait: bool) -> int:
        sockets = list(self.sio.eio.sockets.values())
        # close() queues a CLOSE packet after everything already queued and waits
        # until the client has been sent it; a client that stopped reading is cut
        # off at the deadline.
        closes = [
            asyncio.ensure_future(socket.close(wait=wait, reason=SHUTDOWN_REASON)) for socket in sockets
        ]
        if not closes:
            return 0
        done, pending = await asyncio.wait(closes, timeout=max(0.1, deadline - time.monotonic()))
        for task in pending:
            task.cancel()
        return len(done)


async def _within(work: Awaitable[None], seconds: float) -> bool:
    try:
        await asyncio.wait_for(work, max(0.0, seconds))
    except TimeoutError:
        return False
    return True
