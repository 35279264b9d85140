"""The implementation of each client command of the protocol (websocket/protocol/commands.py).

One method per command, marked `@implements(name)` with the name the
protocol's `COMMANDS` gives it; marking a name twice, or one the protocol does
not have, fails at import, and dispatch.py refuses a table that lacks one. By
the time a method runs, its payload is valid for its model and the command
has been paid for (dispatch.py): each only authorises, calls one function
and returns the acknowledgement. Refusals are `WebSocketError`s, which
dispatch.py turns into error acks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from logging_setup import get_logger
from websocket.access.policy import get_room_policy
from websocket.access.revocation import RevocationList
from websocket.limits.connection import Limits
from websocket.protocol.commands import COMMANDS, EmptyCommand, RefreshCommand, RoomCommand, SubscribeCommand
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.rooms import parse_room
from websocket.server.connections import Connection, ConnectionOps
from websocket.server.dispatch import Ack, CommandFn
from websocket.server.observer import ServerObserver
from websocket.server.subscriptions import Subscriptions
from websocket.server.token_lifetime import TokenLifecycle

log = get_logger("websocket.server.commands")

Implementation = TypeVar("Implementation", bound=Callable[..., Awaitable[Ack]])
# Command name -> the method of CommandHandlers that implements it (filled by @implements).
IMPLEMENTATIONS: dict[str, Callable[..., Awaitable[Ack]]] = {}


def implements(name: str) -> Callable[[Implementation], Implementation]:
    """Mark a method as the implementation of the protocol's command `name`."""

    def register(fn: Implementation) -> Implementation:
        if name not in COMMANDS:
            raise ValueError(f"{fn.__qualname__} implements {name!r}, which COMMANDS does not have")
        if name in IMPLEMENTATIONS:
            first = IMPLEMENTATIONS[name].__qualname__
            raise ValueError(f"{name!r} is implemented twice: {first}, {fn.__qualname__}")
        IMPLEMENTATIONS[name] = fn
        return fn

    return register


class CommandHandlers:
    def __init__(
        self,
        rooms: Subscriptions,
        control: ConnectionOps,
        tokens: TokenLifecycle,
        revoked: RevocationList,
        limits: Limits,
        metrics: ServerObserver,
    ) -> None:
        self.rooms = rooms
        self.control = control
        self.tokens = tokens
        self.revoked = revoked
        self.limits = limits
        self.metrics = metrics

    def table(self) -> dict[str, CommandFn]:
        """Command name -> this object's implementation of it, for the dispatcher."""
        return {name: partial(fn, self) for name, fn in IMPLEMENTATIONS.items()}

    @implements("subscribe")
    async def subscribe(self, conn: Connection, cmd: SubscribeCommand) -> Ack:
        name = await self._allowed_room(conn, cmd.room)
        joined = self.control.subscriptions(conn.sid)
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

    @implements("unsubscribe")
    async def unsubscribe(self, conn: Connection, cmd: RoomCommand) -> Ack:
        name = str(parse_room(cmd.room))
        if name in conn.auto_rooms:
            raise WebSocketError(
                f"{name} is joined automatically and cannot be left", ErrorCode.ROOM_NOT_LEAVABLE
            )
        await self.rooms.leave(conn, name)
        log.info("room_unsubscribed", room=name)
        return {"status": "success", "room": name}

    @implements("presence")
    async def presence(self, conn: Connection, cmd: RoomCommand) -> Ack:
        """Who is in a room: totals to anyone who may join it, the list as `lists_members` says."""
        return await self.rooms.members(await self._allowed_room(conn, cmd.room), conn.user)

    @implements("debug:rooms")
    async def debug_rooms(self, conn: Connection, cmd: EmptyCommand) -> Ack:
        return {"status": "success", "rooms": sorted(self.control.subscriptions(conn.sid))}

    @implements("auth.refresh")
    async def auth_refresh(self, conn: Connection, cmd: RefreshCommand) -> Ack:
        """Run the connection on a new token from now on (token_lifetime.py checks it)."""
        return {"status": "success", "expires_at": await self.tokens.refresh(conn, cmd.token)}

    async def _allowed_room(self, conn: Connection, raw: str) -> str:
        """The room's canonical name, if this connection may be in it."""
        room = parse_room(raw)
        name = str(room)
        if name not in conn.auto_rooms and not await get_room_policy()(conn.user, room):
            raise WebSocketError(f"Not allowed to join {name}", ErrorCode.FORBIDDEN)
        if self.revoked.bars(conn.user, name):
            raise WebSocketError(
                f"Access to {name} was revoked; a newer token is needed", ErrorCode.ACCESS_REVOKED
            )
        return name
