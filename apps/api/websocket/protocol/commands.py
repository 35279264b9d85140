"""What a client may ask: the command payloads, and the one table of commands.

`COMMANDS` maps each command name to its payload model and its success
acknowledgement (acks.py); the server dispatches from it, and the schemas,
the AsyncAPI document and the TypeScript types are generated from it.
Payloads are strict: an unknown field is refused (`INVALID_PAYLOAD`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from websocket.protocol.acks import Ack, PresenceAck, RefreshAck, RoomAck, RoomsAck, SubscribeAck
from websocket.protocol.rooms import MAX_ROOM_LENGTH


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomCommand(Command):
    room: str = Field(min_length=1, max_length=MAX_ROOM_LENGTH)


class SincePosition(Command):
    offset: int = Field(ge=0, le=2**53, description="The offset of the last event the client has")
    epoch: str = Field(max_length=64, description="The epoch that offset belongs to ('' before any event)")


class SubscribeCommand(RoomCommand):
    since: SincePosition | None = Field(
        default=None, description="Resume: replay what came after this position, then continue live"
    )
    replay: Literal["policy", "all"] = Field(
        default="policy",
        description="'policy' replays per event type (latest only, for some); 'all' replays every kept event",
    )


class EmptyCommand(Command):
    pass


class RefreshCommand(Command):
    token: str = Field(min_length=1, max_length=8192)


# Client command name -> (payload model, success acknowledgement model). Any
# command can also answer with ErrorAck. The server dispatches from this table.
COMMANDS: dict[str, tuple[type[Command], type[Ack]]] = {
    "subscribe": (SubscribeCommand, SubscribeAck),
    "unsubscribe": (RoomCommand, RoomAck),
    "presence": (RoomCommand, PresenceAck),
    "debug:rooms": (EmptyCommand, RoomsAck),
    "auth.refresh": (RefreshCommand, RefreshAck),
}
