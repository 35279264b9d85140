"""Engine.IO sockets whose loops create no Task per packet.

python-engineio 4.15's `AsyncSocket`, per WebSocket connection, runs a writer
Task that waits for each packet with `asyncio.wait_for(queue.get(), ...)` (a
new Task per packet on Python 3.11), a reader that wraps each receive in
`ensure_future` + `wait_for` (another Task per message), a new ping Task per
ping cycle, and the server's monitor visits every socket through one more
`wait_for` per socket. Under a broadcast to thousands of clients those Tasks
and their garbage are most of the server's work. `FastSocket` keeps the same
protocol and the same decisions with:

* pings on one loop timer per socket (ping due, then pong due) instead of a
  Task per cycle; a missing pong ends the socket (`ping timeout`) on its own,
  so the server-wide monitor task is switched off;
* a reader that awaits the ASGI `receive` directly, under one long-lived
  `asyncio.timeout()` the ping timer can expire;
* a writer that sleeps on one future while nothing is queued and, when woken,
  sends everything queued in order. ASGI takes one WebSocket message per
  `send`, so each packet is still one message and one write: that is as far
  as batching goes without leaving ASGI;
* a writer that closes the WebSocket after it has sent a CLOSE packet (stock
  leaves it open, and socket.io-client ignores CLOSE over WebSocket, so a
  server-initiated close went unnoticed for ping_interval + ping_timeout);
* the clean-up of an ended WebSocket (Engine.IO and Socket.IO disconnect, our
  handlers), and that of a Socket.IO DISCONNECT packet (`41...`, which
  socket.io-client sends before closing), wait their turn at the server's
  `end_gate`, a `TurnGate` that lets
  DISCONNECTS_PER_TURN of them run per event-loop turn (0, the default: all
  at once). When thousands of clients leave at once their closes arrive
  together and every reader wakes in the same turn; the gate spreads the
  clean-ups over turns. It does not spread the work uvicorn and the
  websockets library do per close before any of this runs, which is most of
  a mass disconnect's stall on the bench, hence off by default.

The python-engineio internals it relies on are listed, each with the release it
was verified on and the behaviour relied on, in `TABLE` of
tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from engineio import async_socket, exceptions, packet

from websocket.internals.frame_lane import FrameLane
from websocket.internals.packet_queue import PacketQueue
from websocket.internals.ws_writer import WebSocketWriter

_closing_tasks: set[asyncio.Task[None]] = set()


class TurnGate:
    """At most `per_turn` callers of `turn()` go on per event-loop turn; the others wait, in order.

    `per_turn` 0 lets everyone through at once. A waiter cancelled while
    waiting gives up its place.
    """

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._passed = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._scheduled = False
        # asyncio.get_running_loop() costs a getpid() system call on Python 3.11: ask once per loop.
        self._loop: asyncio.AbstractEventLoop | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def turn(self) -> None:
        if self.per_turn <= 0:
            return
        if not self._waiting and self._passed < self.per_turn:
            self._passed += 1
            self._schedule()
            return
        future = self._running_loop().create_future()
        self._waiting.append(future)
        self._schedule()
        await future

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        """Once per loop turn while anyone passed or waits: the next `per_turn` waiters go on."""
        self._scheduled = False
        self._passed = 0
        while self._waiting and self._passed < self.per_turn:
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(None)
                self._passed += 1
        if self._waiting or self._passed:
            self._schedule()


def _ping_packet() -> Any:
    return packet.Packet(packet.PING)


class FastSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    # python-engineio's attributes, typed for this module
    server: Any
    sid: str
    queue: PacketQueue
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool
    closing: bool
    closed: bool
    # this class's own
    _timer: asyncio.TimerHandle | None
    _deadline: asyncio.Timeout | None
    _end_reason: str | None
    _peer_closed: bool
    _polls: int
    _polled_at: float
    websocket_scope: dict[str, Any] | None  # set by engine.py (its TCP connection can be reset)
    # While its WebSocket runs: where a broadcast may write its frame at once (frame_lane.FrameLane).
    lane: FrameLane | None = None

    @classmethod
    def adopt(cls, socket: Any) -> FastSocket:
        """Turn a freshly created stock socket (no ping scheduled yet) into a FastSocket."""
        socket.__class__ = cls
        socket._timer = None
        socket._deadline = None
        socket._end_reason = None
        socket._peer_closed = False
        socket._polls = 0
        socket._polled_at = asyncio.get_running_loop().time()
        return socket  # type: ignore[no-any-return]

    @property
    def polled_at(self) -> float | None:
        """When the client's last poll ended (event loop time); None while one is open.

        A long-polling client that behaves always has a poll open, but for the
        round trip between two polls: the drain on shutdown waits for those,
        not for a client that stopped polling (websocket/shutdown/drain.py).
        """
        return None if self._polls else self._polled_at

    # -- pings -----------------------------------------------------------------
    def schedule_ping(self) -> None:
        # As stock: only when the previous cycle is complete (a ping was sent, its pong arrived).
        if self.last_ping:
            self.last_ping = None
            self._set_timer(self.server.ping_interval, self._ping_due)

    def _set_timer(self, delay: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _ping_due(self) -> None:
        self._timer = None
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        self.queue.put_nowait(_ping_packet())
        self._set_timer(self.server.ping_timeout, self._pong_due)

    def _pong_due(self) -> None:
        self._timer = None
        if self.closing or self.closed or not self.last_ping:
            return
        self.server.logger.info("%s: Client is gone, closing socket", self.sid)
        self._end(self.server.reason.PING_TIMEOUT)

    def _end(self, reason: str) -> None:
        """Close from a timer: through the WebSocket reader when one runs, else directly."""
        if self._deadline is not None:
            self._end_reason = reason
            self._deadline.reschedule(asyncio.get_running_loop().time())
            return
        task = asyncio.ensure_future(self._close_polling(reason))
        _closing_tasks.add(task)
        task.add_done_callback(_closing_tasks.discard)

    async def _close_polling(self, reason: str) -> None:
        await self.close(wait=False, abort=False, reason=reason)
        if self.closed and self.server.sockets.get(self.sid) is self:
            del self.server.sockets[self.sid]  # what the stock monitor task would do

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        if self.closed or self.closing:
            return
        self._cancel_timer()
        if wait and not abort and not self.upgraded:
            await self._close_polling_after_goodbye(reason)
            return
        await super().close(wait=wait, abort=abort, reason=reason)
        if self.upgraded:
            self.queue.put_nowait(None)  # the writer ends after what is queued, closing the WebSocket

    async def _close_polling_after_goodbye(self, reason: Any) -> None:
        """Stock close(), but `closed` only once the client has collected everything.

        Stock marks the socket closed before waiting for the client, and
        python-engineio refuses every request of a closed session ("Session is
        disconnected"), so a long-polling client that was between two polls
        never collects what was queued for it, its goodbye included.
        """
        self.closing = True
        reason = reason or self.server.reason.SERVER_DISCONNECT
        await self.server._trigger_event("disconnect", self.sid, reason, run_async=False)
        self.queue.put_nowait(packet.Packet(packet.CLOSE))
        try:
            await self.queue.join()
        finally:
            self.closed = True

    # -- long-polling ------------------------------------------------------------
    async def poll(self) -> list[Any]:
        """Stock semantics: wait up to ping_interval + ping_timeout, then take all that is queued."""
        queue = self.queue
        self._polls += 1
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                await queue.wait()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None
        finally:
            self._polls -= 1
            self._polled_at = asyncio.get_running_loop().time()
        if queue.empty():  # woken by the queue's close: the connection was given up on
            raise exceptions.QueueEmpty()
        first = queue.get_nowait()
        queue.task_done()
        if first is None:
            return []
        packets = [first]
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is None:
                queue.put_nowait(None)  # the end marker stays for the next poll
                break
            packets.append(pkt)
        return packets

    # -- WebSocket ---------------------------------------------------------------
    async def _websocket_handler(self, ws: Any) -> None:
        receive, send = ws.asgi_receive, ws.asgi_send
        if self.connected:
            if not await self._upgrade(receive, send):
                return
        else:
            self.connected = True
            self.upgraded = True
        writer = WebSocketWriter(self.queue, send)
        self.lane = writer.lane
        self.server.logger.info("%s: Upgrade to websocket successful", self.sid)
        reason = self.server.reason.TRANSPORT_CLOSE
        try:
            async with asyncio.timeout(None) as self._deadline:
                reason = await self._read(receive)
        except TimeoutError:
            reason = self._end_reason or reason
        finally:
            self._deadline = None
            self.lane = None  # what is left goes through the queue, in order
        await self.server.end_gate.turn()
        # Nothing more can reach a peer that closed; one that stopped answering pings
        # may have stopped reading too: don't wait on it either.
        gone = self._peer_closed or reason == self.server.reason.PING_TIMEOUT
        await writer.stop(abandon=gone)
        await self.close(wait=False, abort=True, reason=reason)

    async def _read(self, receive: Any) -> str:
        """Hand the client's packets to Engine.IO until the connection ends; return why it ended."""
        while True:
            # Nothing of a message outlives its handling: an idle connection holds no packet.
            ended = await self._handle(await receive())
            if ended is not None:
                return ended

    async def _handle(self, event: dict[str, Any]) -> str | None:
        """One ASGI event from the client; the reason to end the connection, or None to go on."""
        reasons = self.server.reason
        self._peer_closed = event["type"] == "websocket.disconnect"
        data = self._data(event)
        if data is None or len(data) > self.server.max_http_buffer_size:
            return str(reasons.TRANSPORT_CLOSE)  # closed, or too large (as stock)
        try:
            pkt = packet.Packet(encoded_packet=data)
        except Exception:
            self.server.logger.info("%s: Undecodable packet, closing", self.sid)
            return str(reasons.TRANSPORT_ERROR)
        if pkt.packet_type == packet.MESSAGE and isinstance(pkt.data, str) and pkt.data.startswith("41"):
            # A Socket.IO DISCONNECT: its clean-up runs inside receive(); it waits its turn too.
            await self.server.end_gate.turn()
        try:
            await self.receive(pkt)
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return str(reasons.TRANSPORT_CLOSE)
        except Exception:
            self.server.logger.exception("Unknown receive error")
        return None

    @staticmethod
    def _data(event: dict[str, Any]) -> str | bytes | None:
        if event["type"] != "websocket.receive":
            return None
        text = event.get("text")
        return text if text is not None else event.get("bytes")

    async def _upgrade(self, receive: Any, send: Any) -> bool:
        """The probe exchange of an upgrade from long-polling, as stock does it."""
        self.upgrading = True  # hold packet sends on the polling side during the upgrade
        probe = self._decode(self._data(await receive()))
        if probe is None or probe.packet_type != packet.PING or probe.data != "probe":
            self.server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
            self.upgrading = False
            return False
        await send({"type": "websocket.send", "text": packet.Packet(packet.PONG, data="probe").encode()})
        self.queue.put_nowait(packet.Packet(packet.NOOP))  # ends the pending poll
        upgrade = self._decode(self._data(await receive()))
        self.upgrading = False
        if upgrade is None or upgrade.packet_type != packet.UPGRADE:
            self.upgraded = False
            self.server.logger.info("%s: Failed websocket upgrade, expected UPGRADE packet", self.sid)
            return False
        self.upgraded = True
        return True

    def _decode(self, data: str | bytes | None) -> Any:
        if data is None or len(data) > self.server.max_http_buffer_size:
            return None
        try:
            return packet.Packet(encoded_packet=data)
        except Exception:
            return None
