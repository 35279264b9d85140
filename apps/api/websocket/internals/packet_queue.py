"""The outgoing packet queue of one Engine.IO socket, without asyncio.Queue's weight.

python-engineio gives every socket an `asyncio.Queue` (through the server's
`create_queue()`), which costs about 2.5 KB per connection even when empty
(four deques: items, getters, putters, and the waiters of its `join` Event),
and whose `get()` the socket's writer wraps in `asyncio.wait_for`: one Task
per packet. This queue keeps the methods Engine.IO and python-socketio call
(`put`, `put_nowait`, `get`, `get_nowait`, `task_done`, `join`, `empty`,
`qsize`) with asyncio.Queue's meaning, on a list that exists only while
packets wait, and adds two things for `FastSocket`:

* a `sink`: while nothing waits in the queue, a put is first offered to it,
  so an idle WebSocket can write the packet at once instead of waking a
  writer; whatever the sink declines is queued as usual;
* `take_all` / `done` / `close`, for a writer that sends everything waiting
  at once and a connection that is gone;
* the `lane` of its WebSocket (frame_lane.py), whose `SINK` bit it keeps: a
  broadcast may write to the lane directly exactly when a put would have
  been taken by the sink at once (a sink is set, nothing waits, the queue is
  not sealed), so a frame never overtakes a packet waiting here.

A put never waits, as with python-engineio's queue, but the queue is bounded
in bytes (issue 12): it counts the memory its packets hold (their data, as
`sys.getsizeof` reports it: one byte per character of ASCII text) from the put
until the consumer is done with them, and when that passes `limit`
(`MAX_QUEUED_BYTES`) it drops everything at once and calls `on_overflow`
(see slow_consumers.py), which leaves a goodbye with `seal()`. A batch a
consumer took (`take_all`, or `get`s in a row) still counts until the
consumer comes back for more, since the packets stay in memory until then.
A packet shared by every recipient of a broadcast is a `SizedPacket`, sized
once when it is made; what a put to an idle WebSocket writes at once (the
sink) never waits, so it is never counted: the hot path does no sizing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from sys import getsizeof
from typing import Any

from engineio import packet

from websocket.internals.frame_lane import FrameLane


class SizedPacket(packet.Packet):  # type: ignore[misc]
    """An Engine.IO packet that knows the bytes it holds: sized once, however many queues share it."""

    __slots__ = ("size",)

    def __init__(self, packet_type: int, data: str | bytes) -> None:
        super().__init__(packet_type, data)
        self.size: int = getsizeof(data)


def packet_size(item: Any) -> int:
    """The bytes an item holds while it waits (the end marker None: nothing)."""
    if type(item) is SizedPacket:
        return item.size
    if item is None:
        return 0
    return getsizeof(getattr(item, "data", item))


class PacketQueue:
    __slots__ = (
        "_closed", "_items", "_joiners", "_lane", "_queued", "_sealed", "_sink", "_taken", "_unfinished",
        "_waiters", "limit", "on_overflow",
    )  # fmt: skip

    def __init__(self, limit: int | None = None) -> None:
        self._items: list[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None
        self._closed = False
        self._sealed = False  # nothing more is accepted (sealed with a goodbye, or closed)
        self._queued = 0  # bytes of the items waiting here
        self._taken = 0  # bytes of the last batch a consumer took and has not come back from
        # Bytes that may wait before the queue overflows (None: no limit).
        self.limit = limit
        # Called once, when the bytes waiting pass `limit`, after everything waiting was dropped.
        self.on_overflow: Callable[[], None] | None = None
        # Offered each put while the queue is empty; True means it took the item.
        self._sink: Callable[[Any], bool] | None = None
        self._lane: FrameLane | None = None  # of the connection's WebSocket, if it has one

    @property
    def sink(self) -> Callable[[Any], bool] | None:
        return self._sink

    @sink.setter
    def sink(self, sink: Callable[[Any], bool] | None) -> None:
        self._sink = sink
        self._update_lane()

    @property
    def lane(self) -> FrameLane | None:
        return self._lane

    @lane.setter
    def lane(self, lane: FrameLane | None) -> None:
        self._lane = lane
        self._update_lane()

    def _update_lane(self) -> None:
        """Open the lane's SINK bit exactly while a put would be taken by the sink at once."""
        lane = self._lane
        if lane is None:
            return
        if self._sink is not None and self._items is None and not self._sealed:
            lane.unblock(lane.SINK)
        else:
            lane.block(lane.SINK)

    # -- producers -----------------------------------------------------------
    def put_nowait(self, item: Any) -> None:
        if self._sealed:
            return  # nobody will ever send it: the connection is gone or going
        if self._sink is not None and self._items is None and self._sink(item):
            return
        if self._items is None:
            self._items = [item]
            if self._lane is not None:
                self._lane.block(self._lane.SINK)
        else:
            self._items.append(item)
        self._unfinished += 1
        self._queued += packet_size(item)
        if self.limit is not None and self._queued + self._taken > self.limit:
            self._overflow()
            return
        self.wake()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def _overflow(self) -> None:
        """Over the limit: free what waits now, refuse what comes, and tell the owner once."""
        callback, self.on_overflow = self.on_overflow, None
        self._drop()
        self._sealed = True
        self._update_lane()
        if callback is not None:
            callback()
        else:
            self.close()

    def seal(self, goodbye: Iterable[Any]) -> None:
        """Drop what waits, leave only `goodbye` to be sent, and accept nothing after it."""
        if self._closed:
            return
        self._drop()
        self._sealed = True
        self._update_lane()
        for item in goodbye:  # as put_nowait does, but past the seal and the limit
            if self._sink is not None and self._items is None and self._sink(item):
                continue
            if self._items is None:
                self._items = [item]
            else:
                self._items.append(item)
            self._unfinished += 1
            self._queued += packet_size(item)
        self.wake()

    def _drop(self) -> None:
        """Forget what waits here (a batch a consumer took is still its to report with `done`)."""
        dropped = len(self._items) if self._items else 0
        self._items = None
        self._queued = self._taken = 0
        self.done(dropped)

    @property
    def pending_bytes(self) -> int:
        """Bytes waiting for delivery: queued here, or in the batch a consumer is still sending."""
        return self._queued + self._taken

    def headroom(self) -> int | None:
        """Bytes that may still be queued before the limit (None: no limit)."""
        return None if self.limit is None else max(0, self.limit - self._queued - self._taken)

    def wake(self) -> None:
        """Wake whoever waits in `wait()`."""
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # -- consumers -----------------------------------------------------------
    def empty(self) -> bool:
        return not self._items

    def waiting(self) -> tuple[Any, ...]:
        """What waits to be sent, oldest first (a look, not a take)."""
        return tuple(self._items) if self._items else ()

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    @property
    def backlog(self) -> int:
        """Items put and not yet handled: waiting here, or taken by a writer still sending them."""
        return self._unfinished

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.pop(0)
        if not items:
            self._items = None
        size = packet_size(item)
        self._queued -= size
        self._taken += size  # in the consumer's hands until it comes back (`get`, `wait`)
        return item

    async def wait(self) -> None:
        """Return once something is queued (at once if it already is) or `wake()` is called.

        The caller is a consumer back for more: what it took before is handled.
        """
        self._taken = 0
        if self._items:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = [waiter]
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)

    async def get(self) -> Any:
        self._taken = 0  # the consumer is back: what it took before is handled
        while not self._items:
            await self.wait()
        return self.get_nowait()

    def take_all(self) -> list[Any]:
        """Everything waiting, oldest first (empty when nothing is); report them with `done`.

        The bytes taken count until the next `take_all`, when the batch is handled.
        """
        items, self._items = self._items, None
        self._taken, self._queued = self._queued, 0
        return items or []

    # -- completion (join) ---------------------------------------------------
    def done(self, count: int) -> None:
        """`count` taken items were handled (sent or given up)."""
        self._unfinished = max(0, self._unfinished - count)
        if self._unfinished == 0 and self._joiners is not None:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self.done(1)

    async def join(self) -> None:
        """Return once every item put so far has been handled."""
        if self._unfinished == 0:
            return
        joiner = asyncio.get_running_loop().create_future()
        if self._joiners is None:
            self._joiners = [joiner]
        else:
            self._joiners.append(joiner)
        await joiner

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """The connection is gone: drop what waits and what comes, release `join()` and `wait()`."""
        self._closed = self._sealed = True
        self.sink = None
        self._drop()
        self.done(self._unfinished)
        self.wake()
