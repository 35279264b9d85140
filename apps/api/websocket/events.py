"""Socket.IO handlers: connect, disconnect and the client commands.

Handlers are thin: validate, authorise, call one function, return an
acknowledgement. Every command answers through the Socket.IO ack with
`{status: "success", ...}` or `{status: "error", code, message}`; no exception
ever leaves a handler (python-socketio would send no ack at all).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import structlog
from pydantic import ValidationError
from socketio.exceptions import ConnectionRefusedError as SocketIORefused

from logging_setup import get_logger
from observability.metrics import Metrics
from websocket import jsonlib
from websocket.auth import TokenValidator
from websocket.connections import Connection, ConnectionRegistry
from websocket.envelope import OutboundEvent
from websocket.errors import ErrorCode, WebSocketError
from websocket.models import Command, ConnectionEstablished, EmptyCommand, RoomCommand, SubscribeCommand
from websocket.rooms import auto_rooms, get_room_policy, parse_room
from websocket.server import NAMESPACE, EventServer
from websocket.subscriptions import Subscriptions

log = get_logger("websocket.events")

Ack = dict[str, Any]
CommandFn = Callable[[Connection, Any], Awaitable[Ack]]
# Event name of the established notice the original quick-start listens for.
LEGACY_ESTABLISHED = "connection_established"


def client_address(environ: dict[str, Any]) -> str:
    """The peer's address: in ASGI mode REMOTE_ADDR is always 127.0.0.1."""
    client = environ.get("asgi.scope", {}).get("client")
    return str(client[0]) if client else str(environ.get("REMOTE_ADDR", "unknown"))


def token_from(auth: Any, environ: dict[str, Any]) -> str | None:
    """`auth.token` first, then the `token` query parameter of the handshake."""
    if isinstance(auth, dict) and auth.get("token") is not None:
        token = auth["token"]
        return token if isinstance(token, str) else ""
    values = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    return values[0] if values else None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class SocketHandlers:
    def __init__(
        self,
        sio: EventServer,
        validator: TokenValidator,
        registry: ConnectionRegistry,
        rooms: Subscriptions,
        metrics: Metrics | None = None,
    ) -> None:
        self.sio = sio
        self.validator = validator
        self.registry = registry
        self.rooms = rooms
        self.metrics = metrics or Metrics()
        self.commands: dict[str, tuple[type[Command], CommandFn]] = {
            "subscribe": (SubscribeCommand, self.subscribe),
            "unsubscribe": (RoomCommand, self.unsubscribe),
            "presence": (RoomCommand, self.presence),
            "debug:rooms": (EmptyCommand, self.debug_rooms),
        }

    def register(self) -> None:
        sio = self.sio
        sio.on("connect", self.on_connect, namespace=NAMESPACE)
        sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        sio.on("connect", self.refuse_namespace, namespace="*")
        for name, (model, fn) in self.commands.items():
            sio.on(name, self._command(name, model, fn), namespace=NAMESPACE)
        sio.on("*", self.unknown_command, namespace=NAMESPACE)
        sio.after_connect = self.after_connect

    # -- connection lifecycle ----------------------------------------------
    async def refuse_namespace(self, namespace: str, sid: str, environ: Any, auth: Any = None) -> None:
        self.metrics.refused(ErrorCode.INVALID_NAMESPACE.value)
        raise SocketIORefused(
            "Unknown namespace",
            {
                "code": ErrorCode.INVALID_NAMESPACE.value,
                "message": f'Namespace "{namespace}" does not exist; connect to "{NAMESPACE}"',
                "retryable": False,
            },
        )

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        addr = client_address(environ)
        try:
            user = self.validator.validate(token_from(auth, environ))
            conn = Connection(sid=sid, user=user, client_addr=addr, auto_rooms=frozenset(auto_rooms(user)))
            for room in conn.auto_rooms:
                await self.sio.enter_room(sid, room, namespace=NAMESPACE)
            self.registry.add(conn)
        except WebSocketError as exc:
            log.warning("websocket_refused", code=exc.code.value, client_addr=addr, reason=exc.message)
            self.metrics.refused(exc.code.value)
            raise SocketIORefused(exc.message, exc.to_data()) from None
        except Exception:
            # Anything else would leave the client hanging with a half-registered session.
            log.exception("websocket_connect_failed", client_addr=addr)
            self.registry.remove(sid)
            self.metrics.refused(ErrorCode.INTERNAL_ERROR.value)
            error = WebSocketError("Server error while connecting", ErrorCode.INTERNAL_ERROR)
            raise SocketIORefused(error.message, error.to_data()) from None
        log.info("websocket_connect", connection_id=sid, user_id=user.id, role=user.role, client_addr=addr)
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
            ping_interval=self.sio.eio.ping_interval,
            ping_timeout=self.sio.eio.ping_timeout,
        )
        await self.send_to(sid, OutboundEvent.create(payload), LEGACY_ESTABLISHED)

    async def send_to(self, sid: str, event: OutboundEvent, *aliases: str) -> None:
        """Send an event to one connection of this instance (under its type and any aliases)."""
        body = jsonlib.Fragment(event.envelope(None))
        for name in (event.type.value, *aliases):
            await self.sio.manager.local_emit(name, body, NAMESPACE, sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.registry.remove(sid)
        if conn is None:
            return
        self.metrics.disconnected(reason)
        await self.rooms.disconnected(conn, self.rooms.rooms_of(sid), str(reason))
        log.info(
            "websocket_disconnect",
            connection_id=sid,
            user_id=conn.user.id,
            reason=str(reason),
            duration_s=round(time.time() - conn.connected_at, 3),
        )

    # -- commands ----------------------------------------------------------
    def _command(self, name: str, model: type[Command], fn: CommandFn) -> Callable[..., Awaitable[Ack]]:
        async def handler(sid: str, *args: Any) -> Ack:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(command=name, connection_id=sid)
            conn = self.registry.get(sid)
            try:
                if conn is None:
                    raise WebSocketError("Connection is not established", ErrorCode.AUTH_REQUIRED)
                structlog.contextvars.bind_contextvars(user_id=conn.user.id)
                if len(args) > 1:
                    raise WebSocketError("Send one JSON object as the payload", ErrorCode.INVALID_PAYLOAD)
                payload = args[0] if args else {}
                if not isinstance(payload, dict):
                    raise WebSocketError("Payload must be a JSON object", ErrorCode.INVALID_PAYLOAD)
                try:
                    command = model.model_validate(payload)
                except ValidationError as exc:
                    raise WebSocketError(_first_error(exc), ErrorCode.INVALID_PAYLOAD) from None
                return await fn(conn, command)
            except WebSocketError as exc:
                log.warning("command_refused", code=exc.code.value, reason=exc.message)
                return exc.to_ack()
            except Exception:
                log.exception("command_failed")
                return WebSocketError("Internal error", ErrorCode.INTERNAL_ERROR).to_ack()

        handler.__name__ = f"command_{name}"
        return handler

    async def unknown_command(self, event: Any, sid: str, *args: Any) -> Ack:
        name = event if isinstance(event, str) else repr(event)
        log.warning(
            "command_refused", code=ErrorCode.UNKNOWN_COMMAND.value, command=name[:64], connection_id=sid
        )
        return WebSocketError(f"Unknown command {name[:64]!r}", ErrorCode.UNKNOWN_COMMAND).to_ack()

    async def _allowed_room(self, conn: Connection, raw: str) -> str:
        room = parse_room(raw)
        name = str(room)
        if name not in conn.auto_rooms and not await get_room_policy()(conn.user, room):
            raise WebSocketError(f"Not allowed to join {name}", ErrorCode.FORBIDDEN)
        return name

    async def subscribe(self, conn: Connection, cmd: SubscribeCommand) -> Ack:
        name = await self._allowed_room(conn, cmd.room)
        ack = await self.rooms.join(conn, name, cmd)
        log.info("room_subscribed", room=name, resume=cmd.since is not None)
        self.metrics.subscribed(name)
        return ack

    async def unsubscribe(self, conn: Connection, cmd: RoomCommand) -> Ack:
        name = str(parse_room(cmd.room))
        if name in conn.auto_rooms:
            raise WebSocketError(
                f"{name} is joined automatically and cannot be left", ErrorCode.ROOM_NOT_LEAVABLE
            )
        await self.rooms.leave(conn, name)
        log.info("room_unsubscribed", room=name)
        return {"status": "success", "room": name}

    async def presence(self, conn: Connection, cmd: RoomCommand) -> Ack:
        """Who is in a room: allowed to anyone who may join it."""
        return await self.rooms.members(await self._allowed_room(conn, cmd.room))

    async def debug_rooms(self, conn: Connection, cmd: EmptyCommand) -> Ack:
        rooms = [room for room in self.sio.rooms(conn.sid, namespace=NAMESPACE) if room != conn.sid]
        return {"status": "success", "rooms": sorted(rooms)}
