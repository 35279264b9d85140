"""Applying revocations to this instance's connections (see websocket/access/revocation.py).

Live: the control message of `revoke_room` / `disconnect_user`, from this
process or from the Redis channel. Late: `catch_up` over the revocations kept
in Redis, at start and after a lost subscription.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable
from typing import Any

from pydantic import ValidationError

from logging_setup import get_logger
from websocket import audit
from websocket.access.revocation import CONTROL_METHOD, Revocation, RevocationList
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode
from websocket.protocol.notices import SubscriptionRevoked
from websocket.server.connections import Connection, ConnectionOps, ConnectionRegistry

log = get_logger("websocket.server.revoker")


class Revoker:
    """Applies revocations to this instance's connections."""

    def __init__(self, registry: ConnectionRegistry, remembered: RevocationList, ops: ConnectionOps) -> None:
        self.registry = registry
        self.remembered = remembered
        self.ops = ops

    def listen(self, manager: Any) -> None:
        """Hear revocations from every instance, through the manager's control channel if it has one."""
        on_control = getattr(manager, "on_control", None)
        if on_control is not None:
            on_control(CONTROL_METHOD, self.on_message)

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
