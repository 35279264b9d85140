"""Draining an instance on SIGTERM: finish what is in flight, say goodbye, close.

The order, all within `SHUTDOWN_TIMEOUT` seconds (the listening socket stays
open until `Drain.run()` returns, see `serving.GracefulServer`):

1. refuse new Socket.IO connections (`SERVER_SHUTTING_DOWN`, retryable);
2. let REST requests in progress finish, background tasks included, since
   they may still broadcast, and answer new ones 503 (`RequestTracker`);
3. let broadcasts in progress finish (`TrackedTransport`); with Redis, also
   wait until this instance has heard back its own last publication, so every
   event it sent is delivered to its own clients before they are closed;
4. send each connection `server.shutdown` with a reconnect delay spread over
   a few seconds, then close its Engine.IO session cleanly (a CLOSE packet:
   socket.io-client reconnects on its own, to another instance), waiting only
   while its client is collecting it (websocket/shutdown/goodbye.py).

New Engine.IO sessions are refused from the first step at the HTTP level
(`RequestTracker`: 503, or 403 for a WebSocket), which clients retry with
their reconnection backoff, while requests of existing sessions still reach
Engine.IO, on new TCP connections too: that is how a long-polling client
collects its goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from logging_setup import get_logger
from websocket.broker.connection import PublishError
from websocket.internals import sessions
from websocket.protocol import jsonlib
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.notices import ServerShutdown
from websocket.server.connections import ConnectionOps, ConnectionRegistry
from websocket.server.gate import ConnectionGate
from websocket.shutdown.goodbye import say_goodbye
from websocket.shutdown.requests import InFlight, RequestTracker

__all__ = ["Drain", "InFlight", "RedisBarrier", "RequestTracker", "TrackedTransport"]

log = get_logger("websocket.shutdown.drain")

BARRIER_METHOD = "eventserver.barrier"
RECONNECT_DELAY_MS = (1_000, 5_000)
SHUTDOWN_REASON = "server shutdown"  # Engine.IO has no reason of its own for this


class TrackedTransport:
    """Wraps the broadcaster's transport to know which sends are still running."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.in_flight = InFlight()

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        with self.in_flight:
            return bool(await self.inner.send(event, rooms))

    async def send_many(self, batch: Sequence[tuple[OutboundEvent, Sequence[str]]]) -> list[bool]:
        with self.in_flight:
            return list(await self.inner.send_many(batch))

    async def control(self, message: dict[str, Any]) -> bool:
        with self.in_flight:
            return bool(await self.inner.control(message))

    async def aclose(self) -> None:
        await self.inner.aclose()


class RedisBarrier:
    """Publishes a marker and waits for it to come back through this instance's subscription.

    Publications from one connection arrive in order, so once the marker is
    back, every event this instance published before it has been delivered here.
    If Redis does not take the marker (an outage, a connection closed under it),
    there is nothing to wait for: the drain goes on and says so at warning level,
    since each event published before it was already answered True or False.
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
            message = {"method": BARRIER_METHOD, "host_id": self.manager.instance_id, "token": token}
            try:
                await self.manager.publisher.publish(jsonlib.dumpb(message))
            except PublishError as exc:
                log.warning("drain_barrier_skipped", reason=str(exc))
                return
            await future
        finally:
            self._waiting.pop(token, None)


class Drain:
    def __init__(
        self,
        *,
        sio: Any,
        gate: ConnectionGate,
        registry: ConnectionRegistry,
        control: ConnectionOps,
        transport: TrackedTransport,
        requests: InFlight,
        timeout: float,
        barrier: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.sio = sio
        self.gate = gate
        self.registry = registry
        self.control = control
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
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout
        self.gate.close()
        self.requests.closed = True
        log.info(
            "shutdown_started",
            connections=len(self.registry),
            requests_in_flight=self.requests.count,
            broadcasts_in_flight=self.transport.in_flight.count,
            timeout_s=self.timeout,
        )
        # Half the budget for work in progress, the rest for goodbyes.
        finished = await _within(self._finish_in_flight(), started + self.timeout / 2 - loop.time())
        told = await self._tell_all()
        said = await self._close_all(deadline, late)
        log.info(
            "shutdown_drained",
            in_flight_finished=finished,
            told=told,
            closed=said.count(True),
            closed_without_goodbye=said.count(False),
            duration_s=round(loop.time() - started, 3),
        )

    async def _finish_in_flight(self) -> None:
        await self.requests.idle()
        await self.transport.in_flight.idle()
        if self.barrier is not None:
            await self.barrier()

    async def _tell_all(self) -> int:
        told = 0
        for conn in self.registry:
            payload = ServerShutdown(
                reason="This instance is shutting down",
                reconnect_delay_ms=random.randint(*RECONNECT_DELAY_MS),
            )
            with contextlib.suppress(Exception):
                await self.control.send_to(conn.sid, OutboundEvent.create(payload))
                told += 1
        return told

    async def _close_all(self, deadline: float, late: bool) -> list[bool]:
        """Close every Engine.IO session; for each, whether its client collected the CLOSE packet.

        `deadline` is event loop time. `late`: the connections are gone already.
        """
        sockets = self.sio.engineio_sessions()
        if late:
            for socket in sockets:
                with contextlib.suppress(Exception):
                    await sessions.close(socket, SHUTDOWN_REASON, wait=False)
            return [False] * len(sockets)
        results = await asyncio.gather(
            *(say_goodbye(socket, SHUTDOWN_REASON, deadline) for socket in sockets), return_exceptions=True
        )
        return [result is True for result in results]


async def _within(work: Awaitable[None], seconds: float) -> bool:
    try:
        await asyncio.wait_for(work, max(0.0, seconds))
    except TimeoutError:
        return False
    return True
