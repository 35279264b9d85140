"""python-socketio's server, its private methods handed to hooks with public names.

`EventServer` (websocket/server/sio.py) holds the logic; this base is the one
place that overrides python-socketio's private methods or reads its private
state. Each override calls one hook whose default is python-socketio's own
behaviour, so a subclass calls `super().on_...()` where it would have called
`super()._handle_...()`:

    python-socketio 5.18 calls                           hook
    _handle_eio_connect(eio_sid, environ)                on_engineio_connect (False refuses)
    _handle_eio_message(eio_sid, data)                   on_engineio_message
    _handle_eio_disconnect(eio_sid, reason)              on_engineio_disconnect
    _handle_connect(eio_sid, namespace, data)            on_namespace_connect
    _handle_event(eio_sid, namespace, id, data)          on_event_packet
    _handle_event_internal(self, sid, eio_sid, data,     on_event_dispatch (the ack is
                           namespace, id)                  queued before it returns)

`_engineio_server_class()` returns `FastEngineServer` (engine.py). The rest
are small methods for what the subclass needs of python-socketio's and
python-engineio's state: the Engine.IO sessions, the handshake's environ, a
binary packet waiting for attachments, sending an ACK or a CONNECT_ERROR.
Each private name is pinned in tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
from socketio import exceptions as sio_exceptions
from socketio import packet as sio_packet

from websocket.internals import sessions
from websocket.internals.engine import FastEngineServer


class SocketIOServerBase(socketio.AsyncServer):  # type: ignore[misc]
    eio: Any  # python-socketio's Engine.IO server: a FastEngineServer
    environ: dict[str, dict[str, Any]]
    _binary_packet: dict[str, Any]

    def _engineio_server_class(self) -> type:
        return FastEngineServer  # Engine.IO sockets without a Task per packet

    # -- python-socketio's private methods -> hooks --------------------------
    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        return await self.on_engineio_connect(eio_sid, environ)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        await self.on_engineio_message(eio_sid, data)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await self.on_engineio_disconnect(eio_sid, reason)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await self.on_namespace_connect(eio_sid, namespace, data)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        await self.on_event_packet(eio_sid, namespace, id, data)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        await self.on_event_dispatch(sid, eio_sid, data, namespace, id)

    # -- the hooks: python-socketio's behaviour unless overridden ----------------
    async def on_engineio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        """A new Engine.IO session (already in `session_count()`); returning False refuses it."""
        await super()._handle_eio_connect(eio_sid, environ)
        return None

    async def on_engineio_message(self, eio_sid: str, data: Any) -> None:
        """One Engine.IO message: a Socket.IO packet (or a binary attachment) to decode and handle."""
        await super()._handle_eio_message(eio_sid, data)

    async def on_engineio_disconnect(self, eio_sid: str, reason: Any) -> None:
        """The Engine.IO session ended: every namespace it joined is left."""
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def on_namespace_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """A CONNECT packet: the connect handler runs, then CONNECT or CONNECT_ERROR is queued."""
        await super()._handle_connect(eio_sid, namespace, data)

    async def on_event_packet(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        """An EVENT packet, before dispatch: `data` is whatever the client sent as the event."""
        await super()._handle_event(eio_sid, namespace, id, data)

    async def on_event_dispatch(
        self, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        """The event's handler runs (in its own task), then its acknowledgement is queued."""
        await super()._handle_event_internal(self, sid, eio_sid, data, namespace, id)

    # -- Engine.IO sessions ----------------------------------------------------
    def engineio_session(self, eio_sid: str | None) -> sessions.Session | None:
        """The Engine.IO session `eio_sid` (see sessions.py), or None."""
        return self.eio.sockets.get(eio_sid) if eio_sid is not None else None

    def engineio_sessions(self) -> list[sessions.Session]:
        return list(self.eio.sockets.values())

    def session_count(self) -> int:
        """Engine.IO sessions open, joined to a namespace or not."""
        return len(self.eio.sockets)

    def session_state(self, eio_sid: str) -> str:
        """What python-engineio would make of a request naming `eio_sid`.

        "missing", "opening" (created, handshake not finished), "open" (long-polling
        or upgrading; also while a goodbye waits to be collected), "upgraded" (on a
        WebSocket) or "closed" (python-engineio would refuse it, and answers a POST
        to it with an exception).
        """
        socket = self.eio.sockets.get(eio_sid)
        if socket is None:
            return "missing"
        if socket.closed:
            return "closed"
        if not socket.connected:
            return "opening"
        return "upgraded" if socket.upgraded else "open"

    def is_session_open(self, eio_sid: str) -> bool:
        socket = self.eio.sockets.get(eio_sid)
        return socket is not None and not sessions.is_closed(socket)

    def forget_session(self, eio_sid: str, session: sessions.Session | None = None) -> None:
        """Drop `eio_sid` from Engine.IO's table now (only while it is still `session`, when given).

        A forgotten session no longer counts against `max_sessions`; a request
        naming it is refused as unknown.
        """
        if session is None or self.eio.sockets.get(eio_sid) is session:
            self.eio.sockets.pop(eio_sid, None)

    async def close_session(self, eio_sid: str, reason: str, goodbye: bool = False) -> None:
        """End an Engine.IO session now, without waiting for the client to collect the close.

        (`eio.disconnect()` waits, and a polling client that is not polling
        would hold the caller, often the very request that misbehaved.)
        The session is forgotten at once, rather than a ping timeout later by
        Engine.IO's service task, so it stops counting against `max_sessions`;
        with `goodbye`, a long-polling session is kept until then so that its
        next poll still collects what was queued for it.
        """
        socket = self.eio.sockets.get(eio_sid)
        if socket is None:
            return
        await sessions.close(socket, reason, wait=False)
        if not (goodbye and not sessions.is_websocket(socket)):
            self.eio.sockets.pop(eio_sid, None)

    def end_pending_poll(self, eio_sid: str) -> None:
        """A long-polling session's GET in progress is answered now rather than at its timeout."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not sessions.is_websocket(socket):
            sessions.end_poll(socket)

    def set_slow_consumer_handler(self, callback: Callable[[str], None]) -> None:
        """`callback(eio_sid)` runs (inside the put) when a session's queue passes `max_queued_bytes`."""
        self.eio.on_slow_consumer = callback

    @property
    def ping_interval(self) -> float:
        """Seconds between Engine.IO pings (python-socketio passes the setting to python-engineio)."""
        seconds: float = self.eio.ping_interval
        return seconds

    @property
    def ping_timeout(self) -> float:
        """Seconds a client has to answer a ping."""
        seconds: float = self.eio.ping_timeout
        return seconds

    # -- python-socketio's per-session state ---------------------------------------
    def environ_of(self, eio_sid: str) -> dict[str, Any] | None:
        """The environ of the request that opened Engine.IO session `eio_sid` (None once it ended)."""
        return self.environ.get(eio_sid)

    def awaiting_attachments(self, eio_sid: str) -> bool:
        """A binary packet from this session waits for its attachments."""
        return eio_sid in self._binary_packet

    def forget_attachments(self, eio_sid: str) -> None:
        self._binary_packet.pop(eio_sid, None)

    # -- packets -----------------------------------------------------------------
    async def send_ack(self, eio_sid: str, namespace: str | None, id: int, data: list[Any]) -> None:
        """Queue an ACK packet answering event `id`."""
        await self._send_packet(
            eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=id, data=data)
        )

    async def refuse_connect(self, eio_sid: str, namespace: str, message: str, data: Any) -> None:
        """Queue a CONNECT_ERROR packet, as a connect handler raising ConnectionRefusedError would."""
        refusal = sio_exceptions.ConnectionRefusedError(message, data).error_args
        await self._send_packet(
            eio_sid, self.packet_class(sio_packet.CONNECT_ERROR, data=refusal, namespace=namespace)
        )
