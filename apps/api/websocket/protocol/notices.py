"""What the server tells one connection about itself: accepted, about to be closed, out of a room, shutdown.

Sent to a single connection (their envelope's `room` is null), never
broadcast to rooms and never kept in history; only the server sends them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from websocket.protocol.event_types import EventType, Payload


class ConnectionEstablished(Payload):
    """Sent to one connection only, right after it is accepted."""

    event_type = EventType.CONNECTION_ESTABLISHED
    connection_id: str
    user_id: str
    rooms: list[str]
    server_time: datetime
    ping_interval: float
    ping_timeout: float


# Event name of the established notice the original quick-start listens for
# (an alias of connection.established, sent too).
LEGACY_ESTABLISHED = "connection_established"


class ConnectionErrorData(Payload):
    """Sent to one connection right before the server closes it; `code` says why."""

    event_type = EventType.CONNECTION_ERROR
    code: str = Field(description="`AUTH_EXPIRED`, `RATE_LIMITED`, `ACCESS_REVOKED` or `SLOW_CONSUMER`")
    message: str


class SubscriptionRevoked(Payload):
    """The connection was taken out of a room; no more events of that room will arrive."""

    routing = "each connection of the user that was in the room"
    event_type = EventType.SUBSCRIPTION_REVOKED
    room: str
    reason: str


class ServerShutdown(Payload):
    """This instance is shutting down; the connection closes next. Reconnect after the delay."""

    routing = "every connection of the instance that is stopping"
    event_type = EventType.SERVER_SHUTDOWN
    reason: str
    reconnect_delay_ms: int = Field(
        ge=0, description="Suggested wait before reconnecting; differs per connection to spread the load"
    )
