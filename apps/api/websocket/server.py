"""The Socket.IO server, its ASGI mounts and the CORS rules of both paths.

URL rules (see WEBSOCKET_API.md): clients talk to the Socket.IO namespace
`/ws`. The Engine.IO endpoint answers both at `/socket.io/` (what
`io("http://host/ws")` uses) and at `/ws/socket.io/` (what
`io("http://host/ws", {path: "/ws/socket.io"})` uses, keeping all traffic
under the `/ws` mount).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import socketio
from socketio import packet as sio_packet
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from config import Settings
from logging_setup import get_logger
from websocket import jsonlib
from websocket.errors import ErrorCode, WebSocketError

NAMESPACE = "/ws"
MOUNT_PATH = "/ws"
# Starlette's Mount leaves the prefix in scope["path"], and Engine.IO matches
# on scope["path"], so the path under the /ws mount is given in full.
ENGINEIO_PATH = "ws/socket.io"
DEFAULT_ENGINEIO_PATH = "socket.io"
ENGINEIO_PREFIXES = ("/" + ENGINEIO_PATH + "/", "/" + DEFAULT_ENGINEIO_PATH + "/")

log = get_logger("websocket.server")

ConnectHook = Callable[[str], Awaitable[None]]
_after_ack: ContextVar[list[Callable[[], object]] | None] = ContextVar("after_ack", default=None)


def after_ack(action: Callable[[], object]) -> None:
    """Run `action` once the current command's acknowledgement is queued (now, outside a command)."""
    pending = _after_ack.get()
    if pending is None:
        action()
    else:
        pending.append(action)


class EventServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server with two guarantees added.

    * A malformed packet from one client is logged (without a traceback) and
      closes that client only; stock python-socketio logs a traceback and
      keeps the broken session.
    * `after_connect` runs once the CONNECT packet has been queued, so events
      sent from it can never overtake the connection's acceptance.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.after_connect: ConnectHook | None = None

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            log.warning(
                "protocol_error",
                code="BAD_PACKET",
                eio_sid=eio_sid,
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            self._binary_packet.pop(eio_sid, None)
            await self.eio.disconnect(eio_sid)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        # The protocol says an event is [name: string, ...args]; anything else
        # would raise inside python-socketio's handler task, unanswered.
        if isinstance(data, list) and data and isinstance(data[0], str):
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        log.warning("protocol_error", code="BAD_EVENT", eio_sid=eio_sid, detail="event name is not a string")
        if id is not None:
            ack = WebSocketError(
                "An event is a list whose first item is the event name (a string)",
                ErrorCode.INVALID_PAYLOAD,
            ).to_ack()
            await self._send_packet(
                eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=id, data=[ack])
            )

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        # python-socketio sends the ack right after the handler returns, in this
        # same task; actions registered with after_ack() follow it.
        token = _after_ack.set([])
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            pending = _after_ack.get() or []
            _after_ack.reset(token)
            for action in pending:
                try:
                    action()
                except Exception:
                    log.exception("after_ack_failed")

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        # A long-polling client that says goodbye may still have a GET waiting
        # for packets; Engine.IO would hold it open for ping_interval +
        # ping_timeout. Wake it with the end-of-stream marker instead.
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None and not socket.upgraded and reason == self.reason.CLIENT_DISCONNECT:
            socket.queue.put_nowait(None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if sid is not None and self.manager.is_connected(sid, namespace or "/") and self.after_connect:
            await self.after_connect(sid)


def origin_checker(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's handshake origin test: configured origins, or the server's own origin."""
    allowed = set(settings.allowed_origins)
    wildcard = "*" in allowed

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or wildcard or origin in allowed:
            return True
        host = environ.get("HTTP_HOST")
        scheme = environ.get("wsgi.url_scheme", "http")
        if scheme in ("ws", "wss"):
            scheme = "https" if scheme == "wss" else "http"
        return host is not None and origin == f"{scheme}://{host}"

    return check


def create_sio(settings: Settings, manager: Any) -> EventServer:
    return EventServer(
        async_mode="asgi",
        client_manager=manager,
        json=jsonlib,
        namespaces="*",
        cors_allowed_origins=origin_checker(settings),
        cors_credentials=True,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        max_http_buffer_size=settings.max_http_buffer_size,
        logger=logging.getLogger("socketio.server"),
        engineio_logger=logging.getLogger("engineio.server"),
    )


def engineio_apps(sio: EventServer) -> list[tuple[str, ASGIApp]]:
    """(mount path, ASGI app) pairs serving Engine.IO at both supported paths."""
    return [
        (MOUNT_PATH, socketio.ASGIApp(sio, socketio_path=ENGINEIO_PATH)),
        ("/" + DEFAULT_ENGINEIO_PATH, socketio.ASGIApp(sio, socketio_path=DEFAULT_ENGINEIO_PATH)),
    ]


class RestCORSMiddleware:
    """Starlette's CORS for REST routes only.

    Engine.IO answers CORS on its own endpoints; letting both act on the same
    request sends two Access-Control-Allow-Origin headers, which browsers reject.
    """

    def __init__(self, app: ASGIApp, /, **cors: Any) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(ENGINEIO_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
