"""The channels this instance listens to, on one connection or one per cluster master.

An instance listens to the control channel and to the channel of every room
in which it has a local member: `add` returns once Redis has confirmed the
subscription (so a history read that follows cannot miss an event published
after it), `discard` unsubscribes when the last local member has left. On a
single Redis this is one connection (SUBSCRIBE); on a cluster, one connection
per master that owns a subscribed channel's slot (SSUBSCRIBE, sharded: Redis
sends each message to the connections of its shard only).

Liveness is each connection's own business: every `ping_interval` seconds it
sends PING on itself, and a connection that has heard nothing (no message,
no pong) for `MISSED_PINGS` intervals is deaf. Nothing crosses instances, so
the cost grows with the instance count, not its square.

Any failure (a lost or deaf connection, a channel the cluster moved away)
ends `batches()` with an exception; `close()` then `open()` again rebuilds
every connection and subscribes to everything wanted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from redis.crc import key_slot

from websocket.broker.connection import RedisPublisher
from websocket.broker.resp import Link, RespError

MISSED_PINGS = 3
Node = tuple[str, int]
Message = tuple[bytes, bytes]  # (channel, payload)
Waiters = list[asyncio.Future[None]]


class DeafSubscription(Exception):
    pass


class ChannelMoved(Exception):
    """The cluster unsubscribed us from a channel we still want (its slot moved)."""


class _Conn:
    """One link, the channels it has, and the replies it still waits for (per channel, in order)."""

    def __init__(self, link: Link, sharded: bool) -> None:
        self.link = link
        self.sub, self.unsub = ("SSUBSCRIBE", "SUNSUBSCRIBE") if sharded else ("SUBSCRIBE", "UNSUBSCRIBE")
        self.active: set[str] = set()
        self.pending: dict[str, deque[Waiters | None]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def subscribe(self, channel: str, waiters: Waiters) -> None:
        self.link.send(self.sub, channel)
        self.pending.setdefault(channel, deque()).append(waiters)

    def unsubscribe(self, channel: str) -> None:
        self.active.discard(channel)
        self.link.send(self.unsub, channel)
        self.pending.setdefault(channel, deque()).append(None)

    def waiting(self, channel: str) -> Waiters | None:
        """The waiters of the last SUBSCRIBE still unanswered, if that was the last command."""
        queue = self.pending.get(channel)
        return queue[-1] if queue else None

    def answered(self, channel: str, subscribed: bool) -> bool:
        """A (un)subscribe reply; False when it answers nothing we sent."""
        queue = self.pending.get(channel)
        if not queue:
            return False
        waiters = queue.popleft()
        if not queue:
            del self.pending[channel]
            if subscribed:
                self.active.add(channel)
        for future in waiters or ():
            if not future.done():
                future.set_result(None)
        return True

    def unanswered(self) -> dict[str, Waiters]:
        out: dict[str, Waiters] = {}
        for channel, queue in self.pending.items():
            for waiters in queue:
                if waiters:
                    out.setdefault(channel, []).extend(waiters)
        return out


class Subscriber:
    def __init__(self, publisher: RedisPublisher, name: str, ping_interval: float) -> None:
        self.publisher = publisher
        self.name = name
        self.ping_interval = ping_interval
        self.wanted: set[str] = {publisher.channel}
        self._conns: dict[Node, _Conn] = {}
        self._opening: dict[Node, asyncio.Future[_Conn]] = {}
        self._queue: asyncio.Queue[list[Message] | BaseException] = asyncio.Queue()
        self._pinger: asyncio.Task[None] | None = None
        self._carried: dict[str, Waiters] = {}  # waiters of a closed connection, for the next one
        self._open = False

    # -- the channels ---------------------------------------------------------
    async def add(self, channel: str) -> bool:
        """Listen to `channel`; True once Redis confirmed it, False if it could not within the bound."""
        self.wanted.add(channel)
        if not self._open:
            return await self._wait(self._carried.setdefault(channel, []))
        try:
            conn = await self._conn_for(channel)
        except Exception:
            return False
        if channel in conn.active and channel not in conn.pending:
            return True
        waiters = conn.waiting(channel)
        if waiters is None:
            waiters = []
            try:
                conn.subscribe(channel, waiters)
            except ConnectionError:
                return False
        return await self._wait(waiters)

    def _wait(self, waiters: Waiters) -> Awaitable[bool]:
        # The future joins the waiters now, not when the caller first awaits: a
        # reply read in between must find it.
        future = asyncio.get_running_loop().create_future()
        waiters.append(future)
        return self._until(future)

    async def _until(self, future: asyncio.Future[None]) -> bool:
        try:
            await asyncio.wait_for(future, self.publisher.timeout)
        except TimeoutError:
            return False
        return True

    def discard(self, channel: str) -> None:
        """Stop listening to `channel` (the control channel stays)."""
        if channel == self.publisher.channel or channel not in self.wanted:
            return
        self.wanted.discard(channel)
        for conn in self._conns.values():
            if channel in conn.active or channel in conn.pending:
                with contextlib.suppress(ConnectionError):
                    conn.unsubscribe(channel)

    def count(self) -> int:
        return len(self.wanted)

    def connections(self) -> int:
        return len(self._conns)

    # -- connections ------------------------------------------------------------
    def _node(self, channel: str) -> Node | None:
        if not self.publisher.cluster:
            return None
        node = self.publisher.client().nodes_manager.get_node_from_slot(key_slot(channel.encode()))
        return (node.host, int(node.port))

    async def _conn_for(self, channel: str) -> _Conn:
        node = self._node(channel)
        key: Node = node or ("", 0)
        conn = self._conns.get(key)
        if conn is not None:
            return conn
        opening = self._opening.get(key)
        if opening is None:
            opening = self._opening[key] = asyncio.ensure_future(self._connect(key, node))
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done():
                self._opening.pop(key, None)

    async def _connect(self, key: Node, node: Node | None) -> _Conn:
        link = Link(self.publisher.url, *(node or (None, None)))
        await link.open(self.publisher.timeout, self.name)
        conn = _Conn(link, sharded=bool(self.publisher.cluster))
        self._conns[key] = conn
        conn.reader = asyncio.create_task(self._read(conn))
        return conn

    async def open(self) -> None:
        """Connect and subscribe to every wanted channel; returns once all are confirmed."""
        await self.publisher.connect()
        if self.publisher.cluster:
            await asyncio.wait_for(self.publisher.client().nodes_manager.initialize(), self.publisher.timeout)
        self._open = True
        self._queue = asyncio.Queue()
        carried, self._carried = self._carried, {}
        waits = []
        for channel in sorted(self.wanted):
            conn = await self._conn_for(channel)
            waiters = carried.pop(channel, [])
            conn.subscribe(channel, waiters)
            waits.append(self._wait(waiters))
        confirmed = asyncio.ensure_future(asyncio.gather(*waits))
        either: set[asyncio.Future[Any]] = {confirmed}
        either.update(conn.reader for conn in self._conns.values() if conn.reader is not None)
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        failed = next((conn.error for conn in self._conns.values() if conn.error is not None), None)
        if failed is not None:
            confirmed.cancel()
            raise failed
        if not all(await confirmed):
            raise TimeoutError("subscriptions not confirmed in time")
        self._pinger = asyncio.create_task(self._ping())

    async def close(self) -> None:
        self._open = False
        tasks = [self._pinger] + [conn.reader for conn in self._conns.values()]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        for conn in self._conns.values():
            for channel, waiters in conn.unanswered().items():
                self._carried.setdefault(channel, []).extend(waiters)
            await conn.link.close()
        self._conns.clear()
        self._pinger = None

    # -- reading ----------------------------------------------------------------
    async def batches(self) -> AsyncIterator[list[Message]]:
        """Messages as they arrive, a batch at a time; raises when a connection fails."""
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def _read(self, conn: _Conn) -> None:
        try:
            while True:
                batch: list[Message] = []
                for frame in await conn.link.frames():
                    if isinstance(frame, list) and len(frame) == 3:
                        kind = frame[0]
                        if kind == b"message" or kind == b"smessage":
                            batch.append((frame[1], frame[2]))
                        elif kind == b"subscribe" or kind == b"ssubscribe":
                            conn.answered(frame[1].decode(), subscribed=True)
                        elif kind == b"unsubscribe" or kind == b"sunsubscribe":
                            channel = frame[1].decode()
                            if not conn.answered(channel, subscribed=False) and channel in self.wanted:
                                raise ChannelMoved(channel)
                    elif isinstance(frame, RespError):
                        if str(frame).startswith("MOVED"):  # the slot map we used is out of date
                            raise ChannelMoved(str(frame))
                        raise frame
                if batch:
                    self._queue.put_nowait(batch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            conn.error = exc
            self._queue.put_nowait(exc)

    async def _ping(self) -> None:
        deadline = self.ping_interval * MISSED_PINGS
        while True:
            for conn in list(self._conns.values()):
                if time.monotonic() - conn.link.last_heard > deadline:
                    self._queue.put_nowait(DeafSubscription(f"{conn.link.host}:{conn.link.port}"))
                    return
                with contextlib.suppress(ConnectionError):
                    conn.link.send("PING")
            await asyncio.sleep(self.ping_interval)

    def silence(self) -> float:
        """Seconds since the quietest connection last heard anything from Redis."""
        now = time.monotonic()
        return max((now - conn.link.last_heard for conn in self._conns.values()), default=0.0)
