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
  at once and a connection that is gone.

The queue is unbounded, like python-engineio's: a put never waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class PacketQueue:
    __slots__ = ("_closed", "_items", "_joiners", "_unfinished", "_waiters", "sink")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None
        self._unfinished = 0
        self._joiners: list[asyncio.Future[None]] | None = None
        self._closed = False
        # Offered each put while the queue is empty; True means it took the item.
        self.sink: Callable[[Any], bool] | None = None

    # -- producers -----------------------------------------------------------
    def put_nowait(self, item: Any) -> None:
        if self._closed:
            return  # nobody will ever send it: the connection is gone
        if self.sink is not None and self._items is None and self.sink(item):
            return
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        self._unfinished += 1
        self.wake()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def wake(self) -> None:
        """Wake whoever waits in `wait()`."""
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # -- consumers -----------------------------------------------------------
    def empty(self) -> bool:
        return not self._items

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
        return item

    async def wait(self) -> None:
        """Return once something is queued (at once if it already is) or `wake()` is called."""
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
        while not self._items:
            await self.wait()
        return self.get_nowait()

    def take_all(self) -> list[Any]:
        """Everything waiting, oldest first (empty when nothing is); report them with `done`."""
        items, self._items = self._items, None
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
        self._closed = True
        self.sink = None
        self._items = None
        self.done(self._unfinished)
        self.wake()
