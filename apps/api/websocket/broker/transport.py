"""How broadcaster events leave the process: to this server's clients, or through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio.client import Pipeline

from logging_setup import get_logger
from websocket.broker.connection import PublishError, RedisPublisher
from websocket.broker.revocations import RedisRevocations
from websocket.history.in_memory import MemoryHistory
from websocket.history.in_redis import RedisHistory
from websocket.protocol import jsonlib
from websocket.protocol.envelope import OutboundEvent, position_prefix
from websocket.protocol.paths import NAMESPACE

log = get_logger("websocket.broker.transport")


class LocalTransport:
    """Single instance: number the event in the room's history, hand it to the room's members."""

    name = "local"

    def __init__(self, manager: Any, history: MemoryHistory) -> None:
        self._manager = manager
        self.history = history

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        for room in rooms:
            # append and deliver are synchronous: no other event can get between them
            envelope, offset = self.history.append(room, event)
            self._manager.deliver_json(event.name, envelope, NAMESPACE, room, offset=offset)
        return True

    async def send_many(self, batch: Sequence[tuple[OutboundEvent, Sequence[str]]]) -> list[bool]:
        return [await self.send(event, rooms) for event, rooms in batch]

    async def control(self, message: dict[str, Any]) -> bool:
        """A server control message (a revocation): handled in this process."""
        return bool(await self._manager.dispatch_control(message))

    async def aclose(self) -> None:
        return None


class RedisTransport:
    """Publish on each room's channel; every instance with a member there (this one included) delivers.

    Messages have python-socketio's own `emit` shape, so any instance that
    speaks JSON on the channel delivers them. Kept event types go through one
    Lua script per room that numbers, stores and publishes atomically; the
    sender's own instance receives them back from Redis like everyone else,
    so a room's events arrive in offset order on every instance.
    """

    name = "redis"

    def __init__(
        self,
        publisher: RedisPublisher,
        history: RedisHistory,
        origin: str | None = None,
        revocations: RedisRevocations | None = None,
    ) -> None:
        self.publisher = publisher
        self.history = history
        self.origin = origin or f"publisher-{uuid.uuid4().hex}"
        self.revocations = revocations

    def _frame(self, event: OutboundEvent, room: str) -> tuple[bytes, bytes]:
        """The channel message around the envelope: (before, after)."""
        before = b'{"method":"emit","event":%s,"data":[' % jsonlib.dumpb(event.name)
        after = b'],"binary":false,"namespace":%s,"room":%s,"skip_sid":null,"callback":null,"host_id":%s}' % (
            jsonlib.dumpb(NAMESPACE), jsonlib.dumpb(room), jsonlib.dumpb(self.origin),
        )  # fmt: skip
        return before, after

    async def _queue(self, pipe: Pipeline, event: OutboundEvent, rooms: Sequence[str]) -> None:
        """One command per room: the history script (kept types) or a plain publish."""
        for room in rooms:
            before, after = self._frame(event, room)
            if event.replay.stored:
                await self.history.queue_publish(pipe, event, room, before, after)
            else:
                self.publisher.queue_publish(
                    pipe,
                    self.publisher.room_channel(room),
                    before + position_prefix(None, None) + event.rest(room) + after,
                )

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        try:
            await self.publisher.run(lambda pipe: self._queue(pipe, event, rooms))
        except PublishError as exc:
            log.error("event_not_published", event_type=event.name, event_id=event.id, error=str(exc))
            return False
        return True

    async def send_many(self, batch: Sequence[tuple[OutboundEvent, Sequence[str]]]) -> list[bool]:
        """A batch in one round trip, in order; an event is sent when all its rooms' commands succeeded."""

        async def build(pipe: Pipeline) -> None:
            for event, rooms in batch:
                await self._queue(pipe, event, rooms)

        try:
            results = await self.publisher.run(build, each=True)
        except PublishError as exc:
            ids = [event.id for event, _ in batch]
            log.error("event_not_published", events=len(batch), event_ids=ids, error=str(exc))
            return [False] * len(batch)
        sent: list[bool] = []
        at = 0
        for event, rooms in batch:
            refused = [r for r in results[at : at + len(rooms)] if isinstance(r, Exception)]
            at += len(rooms)
            if refused:
                log.error(
                    "event_not_published",
                    event_type=event.name,
                    event_id=event.id,
                    error=f"{type(refused[0]).__name__}: {refused[0]}",
                )
            sent.append(not refused)
        return sent

    async def control(self, message: dict[str, Any]) -> bool:
        """A server control message (a revocation): kept in Redis, then published on the control channel.

        Stored first, in the same round trip: an instance that subscribes and
        then reads the stored revocations cannot miss this one.
        """
        frame = jsonlib.dumpb({**message, "host_id": self.origin})

        def build(pipe: Pipeline) -> None:
            if self.revocations is not None:
                self.revocations.queue(pipe, message)
            self.publisher.queue_publish(pipe, self.publisher.channel, frame)

        try:
            await self.publisher.run(build)
        except PublishError as exc:
            log.error("control_not_published", method=message.get("method"), error=str(exc))
            return False
        return True

    async def aclose(self) -> None:
        await self.publisher.aclose()
