"""The Socket.IO server and its ASGI mounts at both Engine.IO paths (websocket/protocol/paths.py)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import socketio
from starlette.types import ASGIApp

from config import Settings
from logging_setup import get_logger
from websocket import audit
from websocket.gateway.admission import Admission, begin_attempt, end_attempt
from websocket.gateway.cors import origin_checker
from websocket.internals.environ import client_address
from websocket.internals.socketio_server import SocketIOServerBase
from websocket.protocol import jsonlib
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.paths import DEFAULT_ENGINEIO_PATH, ENGINEIO_PATH, MOUNT_PATH

log = get_logger("websocket.server.sio")
_pending: set[asyncio.Task[None]] = set()

ConnectHook = Callable[[str], Awaitable[None]]
_after_ack: ContextVar[list[Callable[[], object]] | None] = ContextVar("after_ack", default=None)


def after_ack(action: Callable[[], object]) -> None:
    """Run `action` once the current command's acknowledgement is queued (now, outside a command)."""
    pending = _after_ack.get()
    if pending is None:
        action()
    else:
        pending.append(action)


# Event names python-socketio dispatches to its own lifecycle handlers: a client
# emitting one would call the connect/disconnect (or catch-all "*") handler with
# arguments of its own choosing.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "*"})
# A Socket.IO DISCONNECT packet from the client (type 1), to any namespace.
SOCKETIO_DISCONNECT = "1"
# Socket.IO packet types that announce binary attachments; this API is JSON only.
BINARY_PACKET_TYPES = ("5", "6")


class EventServer(SocketIOServerBase):
    """python-socketio's server with these guarantees added.

    * A malformed packet from one client is logged (without a traceback) and
      closes that client only; stock python-socketio logs a traceback and
      keeps the broken session. Binary packets count as malformed: this API
      is JSON only, and stock would buffer up to 10^10 attachments.
    * An event that is not `[name: string, ...]`, or that names one of the
      reserved lifecycle events, gets an error ack instead of reaching a handler.
    * `after_connect` runs once the CONNECT packet has been queued, so events
      sent from it can never overtake the connection's acceptance.
    * Engine.IO sessions are capped (`max_sessions`, and per client address
      while they have not joined a namespace) and must join one within
      `connect_timeout` seconds, so handshakes without a token cannot pile
      up; failed namespace connects are throttled per address and end the
      session after a few (`admission`, see websocket/gateway/admission.py).

    Each is added through a hook of `SocketIOServerBase`
    (websocket/internals/socketio_server.py), the one place that overrides
    python-socketio's private methods.
    """

    def __init__(
        self,
        *args: Any,
        max_sessions: int | None = None,
        connect_timeout: float = 5,
        admission: Admission | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.after_connect: ConnectHook | None = None
        self.max_sessions = max_sessions
        self.connect_timeout = connect_timeout
        self.admission = admission or Admission(retry_after=connect_timeout)
        self.admission.max_sessions = max_sessions
        self.admission.sessions = self.session_count

    def client_addr(self, eio_sid: str) -> str:
        return client_address(self.environ_of(eio_sid))

    async def on_engineio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        # The new session is already counted when this runs. The HTTP
        # guard refused over-limit handshakes already; these checks catch the
        # few that raced past it (and apps mounted without the guard).
        if self.max_sessions is not None and self.session_count() > self.max_sessions:
            audit.denied("engineio_refused", ErrorCode.SERVER_FULL, client_addr=client_address(environ))
            return False
        if not self.admission.claim(eio_sid, environ):
            audit.denied(
                "engineio_refused", ErrorCode.TOO_MANY_HANDSHAKES, client_addr=client_address(environ),
                limit=self.admission.pending_per_address,
            )  # fmt: skip
            return False
        await super().on_engineio_connect(eio_sid, environ)
        asyncio.get_running_loop().call_later(self.connect_timeout, self._check_joined, eio_sid)
        return None

    def _check_joined(self, eio_sid: str) -> None:
        if not self.is_session_open(eio_sid):
            self.admission.ended(eio_sid)  # however it ended, its pending slot is free now
            return
        if not self.admission.is_pending(eio_sid):  # joined a namespace (/ws, or /admin)
            return
        audit.denied(
            "engineio_timeout", ErrorCode.AUTH_REQUIRED, client_addr=self.client_addr(eio_sid),
            reason=f"no namespace joined within {self.connect_timeout:g}s", level="info",
        )  # fmt: skip
        task = asyncio.get_running_loop().create_task(self.close_session(eio_sid, "connect timeout"))
        _pending.add(task)
        task.add_done_callback(_pending.discard)

    async def on_engineio_message(self, eio_sid: str, data: Any) -> None:
        try:
            if not self.awaiting_attachments(eio_sid) and (
                not isinstance(data, str) or data.startswith(BINARY_PACKET_TYPES)
            ):
                raise ValueError("binary packets are not accepted")
            if data == "":  # python-socketio would read it as an EVENT with no data
                raise ValueError("empty packet")
            await super().on_engineio_message(eio_sid, data)
        except Exception as exc:
            audit.denied(
                "protocol_error", ErrorCode.BAD_PACKET, client_addr=self.client_addr(eio_sid),
                eio_sid=eio_sid, error=type(exc).__name__, detail=str(exc)[:200],
            )  # fmt: skip
            self.forget_attachments(eio_sid)
            await self.close_session(eio_sid, "bad packet")
            return
        if isinstance(data, str) and data.startswith(SOCKETIO_DISCONNECT) and not self._joined_any(eio_sid):
            # The client left its last namespace: the session has nothing more to carry
            # on this server, and an open one would hold its slot. socket.io-client's
            # Manager closes it too; a raw client learns it from Engine.IO's CLOSE.
            await self.close_session(eio_sid, "client namespace disconnect", goodbye=True)

    def _joined_any(self, eio_sid: str) -> bool:
        manager = self.manager
        return any(manager.sid_from_eio_sid(eio_sid, namespace) for namespace in manager.get_namespaces())

    async def on_event_packet(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        # The protocol says an event is [name: string, ...args]; anything else
        # would raise inside python-socketio's handler task, unanswered.
        if isinstance(data, list) and data and isinstance(data[0], str) and data[0] not in RESERVED_EVENTS:
            await super().on_event_packet(eio_sid, namespace, id, data)
            return
        reserved = isinstance(data, list) and bool(data) and isinstance(data[0], str)
        audit.denied(
            "protocol_error", ErrorCode.INVALID_PAYLOAD, client_addr=self.client_addr(eio_sid),
            eio_sid=eio_sid, detail="reserved event name" if reserved else "event name is not a string",
        )  # fmt: skip
        if id is not None:
            error = (
                WebSocketError(f"{data[0]!r} is reserved and cannot be sent", ErrorCode.UNKNOWN_COMMAND)
                if reserved
                else WebSocketError(
                    "An event is a list whose first item is the event name (a string)",
                    ErrorCode.INVALID_PAYLOAD,
                )
            )
            await self.send_ack(eio_sid, namespace, id, [error.to_ack()])

    async def on_event_dispatch(
        self, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        # python-socketio sends the ack right after the handler returns, in this
        # same task; actions registered with after_ack() follow it.
        token = _after_ack.set([])
        try:
            await super().on_event_dispatch(sid, eio_sid, data, namespace, id)
        finally:
            pending = _after_ack.get() or []
            _after_ack.reset(token)
            for action in pending:
                try:
                    action()
                except Exception:
                    log.exception("after_ack_failed")

    async def on_engineio_disconnect(self, eio_sid: str, reason: Any) -> None:
        # A long-polling client that says goodbye may still have a GET waiting
        # for packets; Engine.IO would hold it open for ping_interval +
        # ping_timeout. Answer it now instead.
        if reason == self.reason.CLIENT_DISCONNECT:
            self.end_pending_poll(eio_sid)
        self.admission.ended(eio_sid)
        await super().on_engineio_disconnect(eio_sid, reason)

    async def on_namespace_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        address = self.client_addr(eio_sid)
        wait = self.admission.throttled(address)
        if wait:
            await self._refuse_throttled(eio_sid, namespace, address, wait)
            return
        attempt, token = begin_attempt(address)
        try:
            await super().on_namespace_connect(eio_sid, namespace, data)
        finally:
            end_attempt(token)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and self.manager.is_connected(sid, namespace):
            self.admission.joined(eio_sid)
            if self.after_connect:
                await self.after_connect(sid)
        elif self.admission.failed(eio_sid, address, attempt.code):
            audit.denied(
                "engineio_closed", ErrorCode.TOO_MANY_FAILED_CONNECTS, client_addr=address,
                limit=self.admission.failures_per_session,
            )  # fmt: skip
            await self.close_session(eio_sid, "too many failed connects", goodbye=True)

    async def _refuse_throttled(self, eio_sid: str, namespace: str, address: str, wait: float) -> None:
        """Too many failed connects from this address: refuse unread, and end the session."""
        error = WebSocketError(
            f"Too many failed connects from this address; try again in {math.ceil(wait)} s",
            ErrorCode.RATE_LIMITED,
        )
        audit.denied("websocket_refused", error.code, client_addr=address, namespace=namespace[:64])
        await self.refuse_connect(eio_sid, namespace, error.message, error.to_data())
        await self.close_session(eio_sid, "connects throttled", goodbye=True)


def create_sio(settings: Settings, manager: Any) -> EventServer:
    admission = Admission(
        pending_per_address=settings.max_pending_sessions_per_address,
        failures_per_session=settings.connect_failures_per_session,
        failure_rate=settings.connect_failure_rate,
        failure_burst=settings.connect_failure_burst,
        max_addresses=settings.max_tracked_addresses,
        retry_after=settings.connect_timeout,
        ipv6_prefix=settings.address_limit_ipv6_prefix,
    )
    return EventServer(
        # Room for handshakes in progress above the Socket.IO connection limit.
        max_sessions=settings.max_connections + max(16, settings.max_connections // 20),
        connect_timeout=settings.connect_timeout,
        admission=admission,
        async_mode="asgi",
        client_manager=manager,
        json=jsonlib,
        namespaces="*",
        cors_allowed_origins=origin_checker(settings),
        cors_credentials=True,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_http_buffer_size,
        fast_sockets=settings.ws_fast_path,
        max_queued_bytes=settings.max_queued_bytes,  # per connection; see websocket/server/slow_consumers.py
        disconnects_per_turn=settings.disconnects_per_turn,  # see websocket/internals/fastsocket.py
        logger=logging.getLogger("socketio.server"),
        engineio_logger=logging.getLogger("engineio.server"),
    )


def engineio_apps(sio: EventServer) -> list[tuple[str, ASGIApp]]:
    """(mount path, ASGI app) pairs serving Engine.IO at both supported paths."""
    return [
        (MOUNT_PATH, socketio.ASGIApp(sio, socketio_path=ENGINEIO_PATH)),
        ("/" + DEFAULT_ENGINEIO_PATH, socketio.ASGIApp(sio, socketio_path=DEFAULT_ENGINEIO_PATH)),
    ]
