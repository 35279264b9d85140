"""What each client command answers: the acknowledgement models.

The handlers in `websocket.events` build these answers as plain dicts; the
models here describe them for the generated schema, AsyncAPI document and
TypeScript types, and a test validates real acknowledgements against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from websocket.errors import ErrorCode
from websocket.models import Command, EmptyCommand, RoomCommand


class Ack(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoomAck(Ack):
    """The command succeeded; `room` is the room's canonical name."""

    status: Literal["success"]
    room: str


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


# Client command name -> (payload model, success acknowledgement model). Any
# command can also answer with ErrorAck.
COMMANDS: dict[str, tuple[type[Command], type[Ack]]] = {
    "subscribe": (RoomCommand, RoomAck),
    "unsubscribe": (RoomCommand, RoomAck),
    "debug:rooms": (EmptyCommand, RoomsAck),
}
