"""Socket.IO handlers: connect, disconnect and the client commands.

Handlers are thin: validate, authorise, call one function, return an
acknowledgement. Every command answers through the Socket.IO ack with
`{status: "success", ...}` or `{status: "error", code, message}`; no exception
ever leaves a handler (python-socketio would send no ack at all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import structlog
from pydantic import ValidationError
from socketio.exceptions import ConnectionRefusedError as SocketIORefused

from logging_setup import get_logger
from websocket import audit
from websocket.access.policy import auto_rooms, get_room_policy
from websocket.access.revocation import CONTROL_METHOD, RevocationList
from websocket.access.tokens import Principal, TokenValidator
from websocket.internals.environ import client_address
from websocket.protocol import jsonlib
from websocket.protocol.commands import Command, EmptyCommand, RefreshCommand, RoomCommand, SubscribeCommand
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.notices import LEGACY_ESTABLISHED, ConnectionErrorData, ConnectionEstablished
from websocket.protocol.paths import NAMESPACE
from websocket.protocol.rooms import parse_room
from websocket.server.admission import note_refusal
from websocket.server.connections import Connection, ConnectionRegistry
from websocket.server.limits import Limits, Verdict
from websocket.server.observer import NoObserver, ServerObserver
from websocket.server.revoker import Revoker
from websocket.server.sio import EventServer
from websocket.server.subscriptions import Subscriptions
from websocket.server.token_lifetime import TokenLifecycle

log = get_logger("websocket.server.handlers")

Ack = dict[str, Any]
CommandFn = Callable[[Connection, Any], Awaitable[Ack]]


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
        limits: Limits | None = None,
        metrics: ServerObserver | None = None,
        revoked: RevocationList | None = None,
    ) -> None:
        self.sio = sio
        self.validator = validator
        self.registry = registry
        self.rooms = rooms
        self.metrics: ServerObserver = metrics or NoObserver()
        self.limits = limits or Limits()
        self.accepting = True  # False while the instance drains for shutdown
        self.revoked = revoked if revoked is not None else RevocationList()
        self.revoker = Revoker(registry, self.revoked, self)
        self.tokens = TokenLifecycle(validator, registry, self.revoked, self)
        self._tasks: set[asyncio.Task[None]] = set()
        self.commands: dict[str, tuple[type[Command], CommandFn]] = {
            "subscribe": (SubscribeCommand, self.subscribe),
            "unsubscribe": (RoomCommand, self.unsubscribe),
            "presence": (RoomCommand, self.presence),
            "debug:rooms": (EmptyCommand, self.debug_rooms),
            "auth.refresh": (RefreshCommand, self.tokens.refresh),
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
        # Revocations reach every instance through the manager's control channel.
        on_control = getattr(sio.manager, "on_control", None)
        if on_control is not None:
            on_control(CONTROL_METHOD, self.revoker.on_message)

    # -- connection lifecycle ----------------------------------------------
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
            user = self.validator.validate(token_from(auth, environ))
            self.admit(user)
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
        log.info("websocket_connect", connection_id=sid, user_id=user.id, role=user.role, client_addr=addr)
        self.metrics.connected()
        await self.rooms.connected(conn)

    def admit(self, user: Principal) -> None:
        """Refuse a new connection the instance should not take; existing ones are untouched."""
        if not self.accepting:
            raise WebSocketError(
                "This instance is shutting down; connect again", ErrorCode.SERVER_SHUTTING_DOWN
            )
        if self.revoked.bars(user):
            raise WebSocketError(
                "Access was revoked; sign in again for a new token", ErrorCode.ACCESS_REVOKED
            )
        if len(self.registry) >= self.limits.max_connections:
            raise WebSocketError("This instance is full; try again later", ErrorCode.SERVER_FULL)
        if self.registry.count_of_user(user.id) >= self.limits.max_connections_per_user:
            raise WebSocketError(
                f"At most {self.limits.max_connections_per_user} connections per user; close one first",
                ErrorCode.TOO_MANY_CONNECTIONS,
            )

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
        await self.send_to(sid, OutboundEvent.create(payload), LEGACY_ESTABLISHED)

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

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.tokens.stop(sid)
        conn = self.registry.remove(sid)
        if conn is None:
            return
        self.metrics.disconnected(reason)
        await self.rooms.disconnected(conn, self.subscriptions(sid), str(reason))
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
            return await self._run(name, sid, args, (model, fn))

        handler.__name__ = f"command_{name}"
        return handler

    async def unknown_command(self, event: Any, sid: str, *args: Any) -> Ack:
        name = event if isinstance(event, str) else repr(event)
        return await self._run(name[:64], sid, args, None)

    async def _run(
        self, name: str, sid: str, args: tuple[Any, ...], command: tuple[type[Command], CommandFn] | None
    ) -> Ack:
        """Every command: rate limit, validate, run; always an ack, never an exception."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(command=name, connection_id=sid)
        conn = self.registry.get(sid)
        if conn is None:
            # Received just before the connection ended (the server closed it, say):
            # nobody is left to answer or to audit.
            log.debug("command_after_disconnect")
            return WebSocketError("Connection is not established", ErrorCode.AUTH_REQUIRED).to_ack()
        try:
            structlog.contextvars.bind_contextvars(user_id=conn.user.id, client_addr=conn.client_addr)
            self._charge(conn)
            if command is None:
                raise WebSocketError(f"Unknown command {name!r}", ErrorCode.UNKNOWN_COMMAND)
            model, fn = command
            if len(args) > 1:
                raise WebSocketError("Send one JSON object as the payload", ErrorCode.INVALID_PAYLOAD)
            payload = args[0] if args else {}
            if not isinstance(payload, dict):
                raise WebSocketError("Payload must be a JSON object", ErrorCode.INVALID_PAYLOAD)
            try:
                parsed = model.model_validate(payload)
            except ValidationError as exc:
                raise WebSocketError(_first_error(exc), ErrorCode.INVALID_PAYLOAD) from None
            return await fn(conn, parsed)
        except WebSocketError as exc:
            audit.denied(
                "command_refused", exc.code, client_addr=conn.client_addr, user_id=conn.user.id,
                reason=exc.message,
            )  # fmt: skip
            return exc.to_ack()
        except Exception:
            log.exception("command_failed")
            return WebSocketError("Internal error", ErrorCode.INTERNAL_ERROR).to_ack()

    def _charge(self, conn: Connection) -> None:
        """Take one command from the connection's budget; a flood ends the connection."""
        verdict = conn.limiter.check() if conn.limiter else Verdict.ALLOW
        if verdict is Verdict.ALLOW:
            return
        if verdict is Verdict.DISCONNECT and not conn.closing:
            audit.denied(
                "websocket_flooding", ErrorCode.RATE_LIMITED, client_addr=conn.client_addr,
                user_id=conn.user.id, connection_id=conn.sid,
            )  # fmt: skip
            # After this command's ack has been queued: the client learns both.
            self._spawn(
                self.close_with(
                    conn.sid, ErrorCode.RATE_LIMITED, "Too many commands; disconnected for flooding"
                )
            )
        raise WebSocketError(
            f"More than {self.limits.command_rate:g} commands per second; slow down", ErrorCode.RATE_LIMITED
        )

    async def _allowed_room(self, conn: Connection, raw: str) -> str:
        room = parse_room(raw)
        name = str(room)
        if name not in conn.auto_rooms and not await get_room_policy()(conn.user, room):
            raise WebSocketError(f"Not allowed to join {name}", ErrorCode.FORBIDDEN)
        if self.revoked.bars(conn.user, name):
            raise WebSocketError(
                f"Access to {name} was revoked; a newer token is needed", ErrorCode.ACCESS_REVOKED
            )
        return name

    async def subscribe(self, conn: Connection, cmd: SubscribeCommand) -> Ack:
        name = await self._allowed_room(conn, cmd.room)
        joined = self.subscriptions(conn.sid)
        taken = len([room for room in joined if room not in conn.auto_rooms])
        if name not in joined and taken >= self.limits.max_subscriptions:
            raise WebSocketError(
                f"At most {self.limits.max_subscriptions} subscriptions per connection; unsubscribe first",
                ErrorCode.SUBSCRIPTION_LIMIT,
            )
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
        """Who is in a room: totals to anyone who may join it, the list as `lists_members` says."""
        return await self.rooms.members(await self._allowed_room(conn, cmd.room), conn.user)

    async def debug_rooms(self, conn: Connection, cmd: EmptyCommand) -> Ack:
        return {"status": "success", "rooms": sorted(self.subscriptions(conn.sid))}

    def subscriptions(self, sid: str) -> list[str]:
        """The rooms a connection is in, without its private sid room."""
        return [room for room in self.sio.rooms(sid, namespace=NAMESPACE) if room != sid]

    async def leave(self, sid: str, room: str) -> None:
        """Take a connection out of a room (revocation, a refreshed token that no longer grants it)."""
        conn = self.registry.get(sid)
        if conn is not None:
            await self.rooms.leave(conn, room)  # keeps presence in step
        else:
            await self.sio.leave_room(sid, room, namespace=NAMESPACE)
