"""A connection's token over time: disconnect at `exp`, or replace it with `auth.refresh`.

At connect the connection's expiry timer is set to the token's `exp`. When it
fires, the client receives `connection.error` (`AUTH_EXPIRED`) and is
disconnected. Before that, the client may send `auth.refresh {token}`: the
new token gets the full validation of a connect, must name the same user
(`sub`), and must not predate a revocation of the user; the timer moves to
the new `exp`, and rooms the new token no longer grants are left (with
`subscription.revoked`), so a refresh can narrow access as well as extend it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from logging_setup import get_logger
from websocket import audit
from websocket.access.policy import get_room_policy
from websocket.access.revocation import RevocationList
from websocket.access.tokens import TokenValidator
from websocket.protocol.envelope import OutboundEvent, utc_timestamp
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.notices import SubscriptionRevoked
from websocket.protocol.rooms import parse_room
from websocket.server.connections import Connection, ConnectionOps, ConnectionRegistry
from websocket.server.expiry import ExpiryTimers

log = get_logger("websocket.server.token_lifetime")


class TokenLifecycle:
    def __init__(
        self,
        validator: TokenValidator,
        registry: ConnectionRegistry,
        revoked: RevocationList,
        ops: ConnectionOps,
    ) -> None:
        self.validator = validator
        self.registry = registry
        self.revoked = revoked
        self.ops = ops
        self.timers = ExpiryTimers(self.expire)

    def start(self, conn: Connection) -> None:
        self.timers.schedule(conn.sid, conn.user.expires_at)

    def stop(self, sid: str) -> None:
        self.timers.cancel(sid)

    async def expire(self, sid: str) -> None:
        """The connection's token reached its `exp`."""
        conn = self.registry.get(sid)
        if conn is None:
            return
        if conn.user.expires_at > time.time() + 1:  # refreshed while the timer fired
            self.timers.schedule(sid, conn.user.expires_at)
            return
        audit.denied(
            "websocket_expired", ErrorCode.AUTH_EXPIRED, client_addr=conn.client_addr,
            user_id=conn.user.id, connection_id=sid, level="info",
        )  # fmt: skip
        await self.ops.close_with(sid, ErrorCode.AUTH_EXPIRED, "Token has expired; refresh it and reconnect")

    async def refresh(self, conn: Connection, token: str) -> str:
        """Replace the connection's token (`auth.refresh`); returns the new expiry, ISO-8601 UTC."""
        user = self.validator.validate(token)
        if user.id != conn.user.id:
            raise WebSocketError("The new token belongs to another user", ErrorCode.AUTH_INVALID)
        if self.revoked.bars(user):
            raise WebSocketError("Access was revoked; sign in again", ErrorCode.ACCESS_REVOKED)
        conn.user = user
        self.timers.schedule(conn.sid, user.expires_at)
        left = await self._recheck_rooms(conn)
        expires_at = utc_timestamp(datetime.fromtimestamp(user.expires_at, UTC))
        log.info("token_refreshed", expires_at=expires_at, rooms_left=left)
        return expires_at

    async def _recheck_rooms(self, conn: Connection) -> list[str]:
        """Leave the rooms the new token no longer grants, telling the client."""
        left = []
        policy = get_room_policy()
        for name in self.ops.subscriptions(conn.sid):
            if name in conn.auto_rooms or await policy(conn.user, parse_room(name)):
                continue
            await self.ops.leave(conn.sid, name)
            payload = SubscriptionRevoked(room=name, reason="The refreshed token does not grant this room")
            await self.ops.send_to(conn.sid, OutboundEvent.create(payload))
            left.append(name)
        return left
