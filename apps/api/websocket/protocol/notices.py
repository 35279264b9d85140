"""What the server tells one connection about itself: accepted, about to be closed, out of a room, shutdown.

Sent to a single connection (their envelope's `room` is null), never
broadcast to rooms and never kept in history; only the server sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from websocket.protocol.event_types import EventType, JsonObject, Payload


class ConnectionEstablished(Payload):
    """Sent to one connection only, right after it is accepted."""

    event_type = EventType.CONNECTION_ESTABLISHED
    connection_id: str
    user_id: str
    rooms: list[str]
    server_time: datetime
    ping_interval: float
    ping_timeout: float
    example: ClassVar[JsonObject] = {"connection_id": "k3Jd9sQ2aB7xYt1LAAAB", "user_id": "user-42",
        "rooms": ["global", "user:user-42"], "server_time": "2026-01-15T09:30:00.000Z", "ping_interval": 25.0,
        "ping_timeout": 60.0}  # fmt: skip


# Event name of the established notice the original quick-start listens for
# (an alias of connection.established, sent too).
LEGACY_ESTABLISHED = "connection_established"


class ConnectionErrorData(Payload):
    """Sent to one connection right before the server closes it; `code` says why."""

    event_type = EventType.CONNECTION_ERROR
    code: str = Field(description="`AUTH_EXPIRED`, `RATE_LIMITED`, `ACCESS_REVOKED` or `SLOW_CONSUMER`")
    message: str
    example: ClassVar[JsonObject] = {"code": "AUTH_EXPIRED", "message": "Token has expired"}  # fmt: skip


class SubscriptionRevoked(Payload):
    """The connection was taken out of a room; no more events of that room will arrive."""

    routing = "each connection of the user that was in the room"
    event_type = EventType.SUBSCRIPTION_REVOKED
    room: str
    reason: str
    example: ClassVar[JsonObject] = {"room": "project:550e8400-e29b-41d4-a716-446655440000",
        "reason": "Removed from the project"}  # fmt: skip


class ServerShutdown(Payload):
    """This instance is shutting down; the connection closes next. Reconnect after the delay."""

    routing = "every connection of the instance that is stopping"
    event_type = EventType.SERVER_SHUTDOWN
    reason: str
    reconnect_delay_ms: int = Field(
        ge=0, description="Suggested wait before reconnecting; differs per connection to spread the load"
    )
    example: ClassVar[JsonObject] = {"reason": "redeploy", "reconnect_delay_ms": 2500}  # fmt: skip
