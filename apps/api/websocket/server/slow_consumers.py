"""Connections that do not read are cut at `MAX_QUEUED_BYTES`, not buffered.

Each connection's outgoing queue (packet_queue.py) counts the bytes waiting
for it. Past `MAX_QUEUED_BYTES` it drops them at once and calls
`overflowed()` from inside the put, that is from inside a broadcast's loop
over a room's members; so that part touches no room and awaits nothing:

* the queue is sealed with a goodbye: `connection.error` with code
  `SLOW_CONSUMER` (retryable: reconnect and resume from history), then
  Engine.IO's CLOSE. It reaches only a client that reads again: a WebSocket
  peer that drains its backlog, a long-polling client that polls again.

Then, in a task: one audit line; the Engine.IO session is closed with reason
`slow consumer`, so the disconnect handlers run (rooms, presence) and
`ws_disconnects_total{reason="slow_consumer"}` counts it (a long-polling
session is closed, and forgotten, once its next poll collected the goodbye;
with python-engineio's own sockets, which refuse every request of a closed
session, at once). `GOODBYE_GRACE_S` after the cut, whatever is left goes: a
WebSocket's TCP connection is reset (tcp_reset.py; a close frame cannot
flush to a peer that does not read, so without it the connection and its
kernel buffers would stay), and a long-polling session that did not come
back is forgotten.

What one slow connection can hold, then: `MAX_QUEUED_BYTES` in its queue
and in the batch its writer took from it; one message inside uvicorn's
`send`, which waits while the transport is paused; and the transport's
buffer, which uvicorn lets grow only to its high-water mark (64 KiB, asyncio
and uvloop alike) plus the frame that crossed it. What waits in the queue is
freed at the cut; the writer's batch, the message in `send` and the
transport's buffer when the TCP connection is reset, within
`GOODBYE_GRACE_S`. (A long-polling response already handed to uvicorn, at
most one batch, is uvicorn's until the peer reads it or the HTTP front's
timeouts end it.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from websocket import audit
from websocket.internals import sessions
from websocket.internals.engine import websocket_scope
from websocket.internals.fastsocket import FastSocket
from websocket.internals.tcp_reset import reset
from websocket.protocol import jsonlib
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode
from websocket.protocol.notices import ConnectionErrorData
from websocket.protocol.paths import NAMESPACE
from websocket.server.connections import ConnectionRegistry
from websocket.server.sio import EventServer

SLOW_CONSUMER_REASON = "slow consumer"  # the Engine.IO close reason (metrics label slow_consumer)
# Long enough for a client that was only paused (a busy tab, a GC pause) to read its goodbye.
GOODBYE_GRACE_S = 1.0


class SlowConsumers:
    def __init__(
        self, sio: EventServer, registry: ConnectionRegistry, grace: float = GOODBYE_GRACE_S
    ) -> None:
        self.sio = sio
        self.registry = registry
        self.grace = grace
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        """Take over the Engine.IO server's overflow hook."""
        self.sio.set_slow_consumer_handler(self.overflowed)

    def overflowed(self, eio_sid: str) -> None:
        """A queue passed the ceiling (and dropped what waited): seal it with a goodbye, end the session."""
        socket = self.sio.engineio_session(eio_sid)
        if socket is None:
            return
        sid = self.sio.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        conn = self.registry.get(sid) if sid else None
        sessions.seal(socket, self._notice() if conn is not None else [])
        if conn is not None:
            conn.closing = True  # no second goodbye (token expiry, flooding) behind this one
        task = asyncio.get_running_loop().create_task(self._end(eio_sid, socket, sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _notice(self) -> list[Any]:
        event = OutboundEvent.create(
            ConnectionErrorData(
                code=ErrorCode.SLOW_CONSUMER.value,
                message="Too many events waiting for this connection; reconnect and resume from history",
            )
        )
        body = jsonlib.Fragment(event.envelope(None))
        return self.sio.manager.encode(event.type.value, body, NAMESPACE)  # type: ignore[no-any-return]

    async def _end(self, eio_sid: str, socket: Any, sid: str | None) -> None:
        # This task runs in a copy of the context of whatever put overflowed (another
        # client's command, a REST request): what it logs is about this connection only.
        structlog.contextvars.clear_contextvars()
        conn = self.registry.get(sid) if sid else None
        queue, polling = sessions.queue_of(socket), not sessions.is_websocket(socket)
        audit.denied(
            "slow_consumer", ErrorCode.SLOW_CONSUMER,
            client_addr=conn.client_addr if conn else self.sio.client_addr(eio_sid),
            user_id=conn.user.id if conn else None, connection_id=sid, eio_sid=eio_sid,
            limit=queue.limit if queue else None, transport="polling" if polling else "websocket",
        )  # fmt: skip
        asyncio.get_running_loop().call_later(self.grace, self._gone, eio_sid, socket)
        if polling and isinstance(socket, FastSocket):
            # Closed once its next poll took the goodbye (or the grace ended).
            await sessions.close(socket, SLOW_CONSUMER_REASON, wait=True)
        else:
            await sessions.close(socket, SLOW_CONSUMER_REASON, wait=False, abort=True)
        if polling:
            # A closed session answers every request with an error (python-engineio raises on a
            # POST to one); unknown, it gets a plain 400. A stock socket is closed before its
            # goodbye could be collected anyway.
            self._forget(eio_sid, socket)

    def _gone(self, eio_sid: str, socket: Any) -> None:
        """The grace is over: reset the TCP connection, forget the session."""
        reset(websocket_scope(socket))
        queue = sessions.queue_of(socket)
        if queue is not None:
            queue.close()  # also ends a close still waiting for a poll that never came
        self._forget(eio_sid, socket)

    def _forget(self, eio_sid: str, socket: Any) -> None:
        self.sio.forget_session(eio_sid, socket)
