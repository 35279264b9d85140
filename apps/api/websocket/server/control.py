"""What the rest of the server may do to one connection of this instance (`ConnectionOps`).

Revocation, token expiry and refresh, the flood cut-off and the shutdown drain
act on connections through this one object, built once in main.py: which
rooms a connection is in, take it out of one, send it an event, close it with
a reason. None of them sees the handlers, python-socketio's server or each
other.
"""

from __future__ import annotations

from websocket.protocol import jsonlib
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode
from websocket.protocol.notices import ConnectionErrorData
from websocket.protocol.paths import NAMESPACE
from websocket.server.connections import ConnectionRegistry
from websocket.server.sio import EventServer
from websocket.server.subscriptions import Subscriptions


class ConnectionControl:
    """`ConnectionOps` (websocket/server/connections.py) over python-socketio and the registry."""

    def __init__(self, sio: EventServer, registry: ConnectionRegistry, rooms: Subscriptions) -> None:
        self.sio = sio
        self.registry = registry
        self.rooms = rooms

    def subscriptions(self, sid: str) -> list[str]:
        """The rooms a connection is in, without its private sid room."""
        return self.rooms.rooms_of(sid)

    async def leave(self, sid: str, room: str) -> None:
        """Take a connection out of a room (revocation, a refreshed token that no longer grants it)."""
        conn = self.registry.get(sid)
        if conn is not None:
            await self.rooms.leave(conn, room)  # keeps presence in step
        else:
            await self.sio.leave_room(sid, room, namespace=NAMESPACE)

    async def send_to(self, sid: str, event: OutboundEvent, *aliases: str) -> None:
        """Send an event to one connection of this instance (under its type and any aliases)."""
        body = jsonlib.Fragment(event.envelope(None))
        for name in (event.type.value, *aliases):
            await self.sio.manager.local_emit(name, body, NAMESPACE, sid)

    async def close_with(self, sid: str, code: ErrorCode, message: str) -> None:
        """Tell one connection why (`connection.error`), then close it, Socket.IO and Engine.IO."""
        conn = self.registry.get(sid)
        if conn is None or conn.closing:
            return
        conn.closing = True
        await self.send_to(sid, OutboundEvent.create(ConnectionErrorData(code=code.value, message=message)))
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        await self.sio.disconnect(sid, namespace=NAMESPACE)
        if eio_sid is not None:
            await self.sio.close_session(eio_sid, self.sio.reason.SERVER_DISCONNECT, goodbye=True)
