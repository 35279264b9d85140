"""Delivery of broadcaster events to this process's own Socket.IO server."""

from __future__ import annotations

from typing import Any

from websocket import jsonlib
from websocket.envelope import OutboundEvent
from websocket.server import NAMESPACE


class LocalTransport:
    """Single instance: write the event straight to this server's room members."""

    name = "local"

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    async def send(self, event: OutboundEvent, room: str) -> bool:
        body = jsonlib.Fragment(event.envelope(room))
        await self._manager.local_emit(event.type.value, body, NAMESPACE, room)
        return True
