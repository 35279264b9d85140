"""A connection's life on this instance: connect, the welcome, disconnect.

Connect: the gate (gate.py) names the user and admits or refuses; the
connection is registered before the first await, so concurrent handshakes
count it, joins its automatic rooms and gets its expiry timer
(token_lifetime.py). A refusal reaches the client as a Socket.IO
`ConnectionRefusedError` with `{code, message, retryable}` and is counted for
the address (admission.py); any other failure is refused as `INTERNAL_ERROR`
and undone, never left half-registered. Connects to any namespace but `/ws`
are refused (`INVALID_NAMESPACE`).

Once the CONNECT packet is queued (`EventServer.after_connect`), the client
gets `connection.established`. Disconnect undoes the connect: timer, registry,
rooms and presence.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from socketio.exceptions import ConnectionRefusedError as SocketIORefused

from logging_setup import get_logger
from websocket import audit
from websocket.access.policy import auto_rooms
from websocket.access.tokens import Principal
from websocket.gateway.admission import note_refusal
from websocket.internals.environ import client_address
from websocket.limits.connection import Limits
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.notices import LEGACY_ESTABLISHED, ConnectionEstablished
from websocket.protocol.paths import NAMESPACE
from websocket.server.connections import Connection, ConnectionOps, ConnectionRegistry
from websocket.server.gate import ConnectionGate
from websocket.server.observer import ServerObserver
from websocket.server.sio import EventServer
from websocket.server.subscriptions import Subscriptions
from websocket.server.token_lifetime import TokenLifecycle

log = get_logger("websocket.server.lifecycle")


class ConnectionLifecycle:
    def __init__(
        self,
        sio: EventServer,
        gate: ConnectionGate,
        registry: ConnectionRegistry,
        limits: Limits,
        tokens: TokenLifecycle,
        rooms: Subscriptions,
        control: ConnectionOps,
        metrics: ServerObserver,
        log_connections: bool = True,
    ) -> None:
        self.sio = sio
        self.gate = gate
        self.registry = registry
        self.limits = limits
        self.tokens = tokens
        self.rooms = rooms
        self.control = control
        self.metrics = metrics
        # One line per accepted connect and per disconnect, at INFO with LOG_CONNECTIONS, else at
        # DEBUG (about 11 µs each when written; refusals are audited either way, see audit.py).
        self.log_connection = log.info if log_connections else log.debug

    def register(self) -> None:
        self.sio.on("connect", self.on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        self.sio.on("connect", self.refuse_namespace, namespace="*")
        self.sio.after_connect = self.after_connect

    async def refuse_namespace(self, namespace: str, sid: str, environ: Any, auth: Any = None) -> None:
        error = WebSocketError(
            f'Namespace "{namespace[:64]}" does not exist; connect to "{NAMESPACE}"',
            ErrorCode.INVALID_NAMESPACE,
        )
        note_refusal(error.code)
        audit.denied(
            "websocket_refused", error.code, client_addr=client_address(environ), reason=error.message
        )
        self.metrics.refused(error.code.value)
        raise SocketIORefused("Unknown namespace", error.to_data())

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        addr = client_address(environ)
        user: Principal | None = None
        try:
            user = self.gate.principal(auth, environ)
            self.gate.admit(user)
            conn = Connection(
                sid=sid, user=user, client_addr=addr, auto_rooms=frozenset(auto_rooms(user)),
                limiter=self.limits.limiter(),
            )  # fmt: skip
            # Registered before the first await, so concurrent handshakes count it.
            self.registry.add(conn)
            for room in conn.auto_rooms:
                await self.sio.enter_room(sid, room, namespace=NAMESPACE)
            self.tokens.start(conn)
        except WebSocketError as exc:
            note_refusal(exc.code)
            audit.denied(
                "websocket_refused", exc.code, client_addr=addr, user_id=user.id if user else None,
                reason=exc.message,
            )  # fmt: skip
            self.metrics.refused(exc.code.value)
            raise SocketIORefused(exc.message, exc.to_data()) from None
        except Exception:
            # Anything else would leave the client hanging with a half-registered session.
            note_refusal(ErrorCode.INTERNAL_ERROR)  # our fault, not a guess of the client's
            log.exception("websocket_connect_failed", client_addr=addr)
            self.registry.remove(sid)
            self.tokens.stop(sid)
            self.metrics.refused(ErrorCode.INTERNAL_ERROR.value)
            error = WebSocketError("Server error while connecting", ErrorCode.INTERNAL_ERROR)
            raise SocketIORefused(error.message, error.to_data()) from None
        self.log_connection(
            "websocket_connect", connection_id=sid, user_id=user.id, role=user.role, client_addr=addr
        )
        self.metrics.connected()
        await self.rooms.connected(conn)

    async def after_connect(self, sid: str) -> None:
        conn = self.registry.get(sid)
        if conn is None:
            return
        conn.transport = self.sio.transport(sid, namespace=NAMESPACE)
        payload = ConnectionEstablished(
            connection_id=sid,
            user_id=conn.user.id,
            rooms=sorted(conn.auto_rooms),
            server_time=datetime.now(UTC),
            ping_interval=self.sio.ping_interval,
            ping_timeout=self.sio.ping_timeout,
        )
        await self.control.send_to(sid, OutboundEvent.create(payload), LEGACY_ESTABLISHED)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.tokens.stop(sid)
        conn = self.registry.remove(sid)
        if conn is None:
            return
        self.metrics.disconnected(reason)
        await self.rooms.disconnected(conn, self.control.subscriptions(sid), str(reason))
        self.log_connection(
            "websocket_disconnect",
            connection_id=sid,
            user_id=conn.user.id,
            reason=str(reason),
            duration_s=round(time.time() - conn.connected_at, 3),
        )
