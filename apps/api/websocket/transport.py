"""How broadcaster events leave the process: to this server's clients, or through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from logging_setup import get_logger
from websocket import jsonlib
from websocket.envelope import OutboundEvent
from websocket.redis_bus import PublishError, RedisPublisher
from websocket.server import NAMESPACE

log = get_logger("websocket.transport")


class LocalTransport:
    """Single instance: write the event straight to this server's room members."""

    name = "local"

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        for room in rooms:
            body = jsonlib.Fragment(event.envelope(room))
            await self._manager.local_emit(event.type.value, body, NAMESPACE, room)
        return True

    async def control(self, message: dict[str, Any]) -> bool:
        """A server control message (a revocation): handled in this process."""
        return bool(await self._manager.dispatch_control(message))

    async def aclose(self) -> None:
        return None


class RedisTransport:
    """Publish on the Socket.IO channel; every instance (this one included) delivers.

    Messages have python-socketio's own `emit` shape, so any instance of any
    version that speaks JSON on the channel delivers them. The sender's own
    instance receives them back from Redis like everyone else, which keeps the
    order of a room's events the same on every instance.
    """

    name = "redis"

    def __init__(self, publisher: RedisPublisher, origin: str | None = None) -> None:
        self.publisher = publisher
        self.origin = origin or f"publisher-{uuid.uuid4().hex}"

    def message(self, event: OutboundEvent, room: str) -> bytes:
        return jsonlib.dumpb(
            {
                "method": "emit",
                "event": event.type.value,
                "data": [jsonlib.Fragment(event.envelope(room))],
                "binary": False,
                "namespace": NAMESPACE,
                "room": room,
                "skip_sid": None,
                "callback": None,
                "host_id": self.origin,
            }
        )

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        try:
            await self.publisher.publish(*(self.message(event, room) for room in rooms))
        except PublishError as exc:
            log.error("event_not_published", event_type=event.type.value, event_id=event.id, error=str(exc))
            return False
        return True

    async def control(self, message: dict[str, Any]) -> bool:
        """A server control message (a revocation): published for every instance's listener."""
        try:
            await self.publisher.publish(jsonlib.dumpb({**message, "host_id": self.origin}))
        except PublishError as exc:
            log.error("control_not_published", method=message.get("method"), error=str(exc))
            return False
        return True

    async def aclose(self) -> None:
        await self.publisher.aclose()
