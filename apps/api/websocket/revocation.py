"""Live revocation: take a user out of a room, or off the server, on every instance.

The host application calls `get_broadcaster().revoke_room(user_id, room)` or
`.disconnect_user(user_id, reason)`. The broadcaster turns the call into one
control message: handed straight to this instance's `Revoker` in a single
instance, or published on the Socket.IO Redis channel, where every
instance's listener hands it to its own `Revoker` (write-only processes
included as senders).

Each instance also remembers the revocation (`RevocationList`) so a token
issued before it cannot simply undo it: such a token can no longer
re-subscribe to the revoked room, or connect and refresh after a user
disconnect. A token issued after the revocation (from the next second on,
JWT `iat` has whole seconds) passes again: the issuer has decided anew.

With Redis, revocations are also kept there (websocket/revocation_redis.py)
for `JWT_MAX_LIFETIME`: after that, every token issued before them has
expired anyway. An instance reads them at start and after each lost
subscription (`Revoker.catch_up`), so one started later, or deaf for a
while, enforces them too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from logging_setup import get_logger
from websocket import audit
from websocket.auth import Principal
from websocket.connections import Connection, ConnectionOps, ConnectionRegistry
from websocket.envelope import OutboundEvent
from websocket.errors import ErrorCode, WebSocketError
from websocket.models import SubscriptionRevoked
from websocket.rooms import parse_room

log = get_logger("websocket.revocation")

CONTROL_METHOD = "eventserver.revoke"
RETENTION_SECONDS = 24 * 3600
MAX_REMEMBERED = 100_000


class Revocation(BaseModel):
    """The control message; what travels on the channel besides `method` and `host_id`."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    action: Literal["room", "user"]
    user_id: str = Field(min_length=1, max_length=128)
    room: str | None = Field(default=None, max_length=200)
    reason: str = Field(max_length=500)
    at: float

    @classmethod
    def of_room(cls, user_id: str, room: str, reason: str) -> Revocation:
        try:
            name = str(parse_room(room))
        except WebSocketError as exc:
            raise ValueError(exc.message) from None
        if name == "global" or name == f"user:{user_id}":
            raise ValueError(f"{name} is joined automatically; use disconnect_user() instead")
        return cls(action="room", user_id=str(user_id), room=name, reason=reason, at=time.time())

    @classmethod
    def of_user(cls, user_id: str, reason: str) -> Revocation:
        return cls(action="user", user_id=str(user_id), reason=reason, at=time.time())

    def message(self) -> dict[str, Any]:
        """The control message; the transport adds its `host_id`."""
        return {"method": CONTROL_METHOD, **self.model_dump()}


class RevocationList:
    """What this instance was told to revoke, so that older tokens cannot undo it."""

    def __init__(self, retention: float = RETENTION_SECONDS, max_entries: int = MAX_REMEMBERED) -> None:
        self.retention = retention
        self.max_entries = max_entries
        self._at: OrderedDict[tuple[str, str | None], float] = OrderedDict()

    def remember(self, revocation: Revocation) -> bool:
        """Keep it (the latest per user and room); False when it was known already, or too old."""
        horizon = time.time() - self.retention
        key = (revocation.user_id, revocation.room)
        known = self._at.get(key)
        if revocation.at < horizon or (known is not None and known >= revocation.at):
            return False
        self._at.pop(key, None)
        self._at[key] = revocation.at
        while self._at and (len(self._at) > self.max_entries or next(iter(self._at.values())) < horizon):
            self._at.popitem(last=False)
        return True

    def bars(self, user: Principal, room: str | None = None) -> bool:
        """Whether `user`'s token predates a revocation of the user (room None) or of the room."""
        at = self._at.get((user.id, room))
        if at is None or at < time.time() - self.retention:
            return False
        return user.issued_at is None or user.issued_at <= at

    def __len__(self) -> int:
        return len(self._at)


class Revoker:
    """Applies revocations to this instance's connections."""

    def __init__(self, registry: ConnectionRegistry, remembered: RevocationList, ops: ConnectionOps) -> None:
        self.registry = registry
        self.remembered = remembered
        self.ops = ops

    async def on_message(self, message: dict[str, Any]) -> None:
        """Control-channel entry point: check the message, then apply it."""
        try:
            revocation = Revocation.model_validate(message)
        except ValidationError as exc:
            log.warning(
                "revocation_dropped", reason=str(exc.errors()[0]["msg"]), host_id=message.get("host_id")
            )
            return
        await self.apply(revocation)

    async def apply(self, revocation: Revocation) -> int:
        """Revoke on this instance; return how many connections it affected."""
        self.remembered.remember(revocation)
        affected = await self._enforce(revocation, self.registry.of_user(revocation.user_id))
        log.info(
            "revocation_applied",
            action=revocation.action,
            user_id=revocation.user_id,
            room=revocation.room,
            connections=affected,
            age_ms=round((time.time() - revocation.at) * 1000, 1),
        )
        return affected

    async def catch_up(self, pages: AsyncIterable[list[Revocation]]) -> int:
        """Revocations read back from Redis (at start, after a lost subscription).

        Remember each; those this instance had not heard of also reach its live
        connections whose token predates them (what a live message would have
        done). Returns how many connections were affected.
        """
        loaded = new = affected = 0
        try:
            async for page in pages:
                loaded += len(page)
                for revocation in page:
                    if not self.remembered.remember(revocation):
                        continue
                    new += 1
                    of_user = self.registry.of_user(revocation.user_id)
                    older = [conn for conn in of_user if self.remembered.bars(conn.user, revocation.room)]
                    affected += await self._enforce(revocation, older)
        finally:
            log.info("revocations_loaded", loaded=loaded, new=new, connections=affected)
        return affected

    async def _enforce(self, revocation: Revocation, connections: list[Connection]) -> int:
        affected = 0
        for conn in connections:
            if revocation.action == "user":
                audit.denied(
                    "user_disconnected", ErrorCode.ACCESS_REVOKED, client_addr=conn.client_addr,
                    user_id=conn.user.id, connection_id=conn.sid, reason=revocation.reason,
                )  # fmt: skip
                await self.ops.close_with(conn.sid, ErrorCode.ACCESS_REVOKED, revocation.reason)
                affected += 1
            elif revocation.room is not None and revocation.room in self.ops.subscriptions(conn.sid):
                await self.ops.leave(conn.sid, revocation.room)
                payload = SubscriptionRevoked(room=revocation.room, reason=revocation.reason)
                await self.ops.send_to(conn.sid, OutboundEvent.create(payload))
                audit.denied(
                    "subscription_revoked", ErrorCode.ACCESS_REVOKED, client_addr=conn.client_addr,
                    user_id=conn.user.id, connection_id=conn.sid, room=revocation.room,
                    reason=revocation.reason,
                )  # fmt: skip
                affected += 1
        return affected
