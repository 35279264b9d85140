"""What each client command answers: the acknowledgement models.

The command implementations (websocket/server/commands.py) build these
answers as plain dicts; the models here describe them for the generated
schema, AsyncAPI document and TypeScript types, and a test validates real
acknowledgements against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from websocket.protocol.errors import ErrorCode


class Ack(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoomAck(Ack):
    """The command succeeded; `room` is the room's canonical name."""

    status: Literal["success"]
    room: str


class StreamPosition(Ack):
    """A position in a room's stream: resume from here with `subscribe {room, since}`."""

    offset: int = Field(description="The last offset of the room's stream (0 before any event)")
    epoch: str = Field(description="The stream's identity ('' before any event)")


NotRecovered = Literal[
    "epoch_changed", "history_expired", "ahead_of_stream", "history_unavailable", "replay_limited"
]


class SubscribeAck(RoomAck):
    """Subscribed. With `since`, says whether everything missed was replayed (just before this ack)."""

    position: StreamPosition | None = Field(
        description="The room's position; live events after it follow this ack. "
        "Null when history is unreachable"
    )
    recovered: bool | None = Field(
        default=None,
        description="Only with `since`: true when every missed event was replayed (or none was missed); "
        "false when history no longer reaches back or the replay was not allowed (reload state over REST)",
    )
    replayed: int | None = Field(default=None, description="Only with `since`: how many events were re-sent")
    reason: NotRecovered | None = Field(
        default=None,
        description="Only when not recovered: why. `replay_limited`: the replay would pass this "
        "connection's replay budget (REPLAY_BYTES_PER_MINUTE) or its queue ceiling (MAX_QUEUED_BYTES)",
    )


class PresenceUser(Ack):
    user_id: str
    connections: int


class PresenceAck(RoomAck):
    """Who is connected to the room, on every instance.

    At most 1,000 users are listed, most connections first; the totals count all.
    `global` (everyone is in it) answers the totals only, except to admins.
    """

    users: list[PresenceUser] | None = Field(
        default=None,
        description="The users, most connections first (at most 1,000); absent for `global` "
        "unless the asker's role is admin",
    )
    total_users: int
    total_connections: int


class RefreshAck(Ack):
    """The connection now runs on the new token; it is closed at that token's expiry instead."""

    status: Literal["success"]
    expires_at: str = Field(description="The new token's expiry, ISO-8601 UTC")


class RoomsAck(Ack):
    """The rooms this connection is in, sorted (its own Socket.IO room excluded)."""

    status: Literal["success"]
    rooms: list[str]


class ErrorAck(Ack):
    """The command failed; nothing changed. `retryable` says whether trying again unchanged can help."""

    status: Literal["error"]
    code: ErrorCode
    message: str = Field(description="For people; match on `code`")
    retryable: bool
