"""Writing one Engine.IO socket's packets to its WebSocket: at once when possible.

While nothing waits in the socket's queue, a packet put on it is written
right away, inside the put: `deliver()` looping over a room's members writes
to each of them as `websockets.broadcast()` does, with no Task, future or
callback per recipient (those, kept alive by thousands at once during a
broadcast, were what kept CPython's garbage collector busy). The ASGI `send`
is a coroutine, but uvicorn's completes without suspending unless the
connection applies backpressure, so it is driven by hand (`coro.send(None)`)
and, in the rare case it does suspend, handed to a Task that finishes it
(`_resume`) and then writes whatever was queued meanwhile, in order, before
the socket goes back to writing directly.

A broadcast's packet written at once skips even the ASGI `send`: its frame,
made once for every recipient, is written as bytes (ws_frames.py) whenever
uvicorn's `send` would have written it without waiting. On the server's own
WebSocket protocol the writer's `lane` lets a broadcast do that without
putting the packet on the queue at all (manager.py); the queue keeps the
lane blocked whenever a put would not have gone straight to `_offer`.

A CLOSE packet or the end marker (None) always goes through the Task, which
closes the WebSocket after writing it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from engineio import packet

from websocket.internals.frame_lane import FrameLane
from websocket.internals.packet_queue import PacketQueue
from websocket.internals.packets import EventPacket
from websocket.internals.ws_frames import direct_writer, frame_lane

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _message(pkt: Any) -> dict[str, Any]:
    if type(pkt) is EventPacket:
        return pkt.frame  # a broadcast's: made once for every recipient (never changed by a send)
    data = pkt.encode()
    if isinstance(data, str):
        return {"type": "websocket.send", "text": data}
    return {"type": "websocket.send", "bytes": data}


async def _settled(future: asyncio.Future[Any]) -> None:
    """Return once `future` is done, whatever its outcome; cancelled meanwhile, cancel it (as Task does).

    The future was yielded by a coroutine driven by hand: it is that
    coroutine's to read (awaiting it here again is what asyncio refuses).
    """
    if future.done():
        return
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    try:
        await waiter
    except asyncio.CancelledError:
        future.remove_done_callback(wake)
        future.cancel()
        raise


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
    """Finish a coroutine started by hand that yielded `yielded`, as asyncio's Task would.

    A yielded future is waited for, then the coroutine resumed (it reads the
    future's outcome itself); a bare yield means "run me again soon".
    """
    try:
        while True:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                try:
                    await _settled(yielded)
                except BaseException:
                    if not yielded.done():
                        raise  # this Task was cancelled, not the coroutine's future
            yielded = coro.send(None)
    except StopIteration:
        return
    except BaseException:
        coro.close()
        raise


class WebSocketWriter:
    __slots__ = ("_blocked", "_direct", "_queue", "_send", "_task", "ended", "lane")

    def __init__(self, queue: PacketQueue, send: Send) -> None:
        self._queue = queue
        self._send = send
        # A broadcast's ready frame, written as bytes when uvicorn would write it at once (ws_frames.py).
        self.lane: FrameLane | None = frame_lane(send)
        self._direct = self.lane.write if self.lane is not None else direct_writer(send)
        self._task: asyncio.Task[None] | None = None
        self._blocked: tuple[Coroutine[Any, Any, Any], Any] | None = None
        self.ended = False
        if queue.empty():
            queue.sink = self._offer
        else:
            self._start()  # what was queued before the WebSocket was ready (OPEN, CONNECT, ...)
        queue.lane = self.lane

    def _offer(self, pkt: Any) -> bool:
        """The queue's sink: write `pkt` now; False leaves it queued for the Task."""
        if type(pkt) is EventPacket and self._direct is not None and self._direct(pkt.wire):
            return True
        if pkt is None or pkt.packet_type == packet.CLOSE:
            self._start()
            return False
        coro = self._send(_message(pkt))
        try:
            yielded = coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return True
        except Exception:  # the connection is gone: nothing more can be written
            self._give_up()
            return True
        self._blocked = (coro, yielded)  # type: ignore[assignment]
        self._start()
        return True

    def _start(self) -> None:
        self._queue.sink = None
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def _give_up(self) -> None:
        self.ended = True
        self._queue.close()

    async def _run(self) -> None:
        try:
            ended = await self._drain()
        except asyncio.CancelledError:
            self._task = None
            self._give_up()
            raise
        except Exception:  # the connection is gone (as stock: stop writing)
            ended = True
        try:
            if ended:
                self._give_up()
                with contextlib.suppress(Exception):
                    await self._send({"type": "websocket.close"})
        finally:
            self._task = None
        if not ended and not self._queue.closed:
            self._queue.sink = self._offer  # nothing waits: back to writing directly

    async def _drain(self) -> bool:
        """Finish a blocked send, then send all that is queued; True once the end was written."""
        queue = self._queue
        while True:
            if self._blocked is not None:
                coro, yielded = self._blocked
                self._blocked = None
                await _resume(coro, yielded)
            packets = queue.take_all()
            if not packets:
                return False
            try:
                for pkt in packets:
                    if pkt is None:
                        return True
                    await self._send(_message(pkt))
                    if pkt.packet_type == packet.CLOSE:
                        return True
            finally:
                queue.done(len(packets))

    async def stop(self, abandon: bool = False) -> None:
        """Write what is queued and close the WebSocket; `abandon` cancels a write in progress.

        Abandoning an idle writer is immediate: when the peer is gone there is
        nothing to write and no close to send, so no Task is started for it.
        """
        if abandon and self._task is None:
            self._give_up()
            return
        if abandon and self._task is not None:
            self._task.cancel()
        self._queue.put_nowait(None)
        while (task := self._task) is not None:
            await asyncio.gather(task, return_exceptions=True)
            if self._task is task:  # cancelled before it first ran: _run() never cleared it
                self._task = None
        self._give_up()
