"""Building the envelope an event travels in, serialising its payload once.

An event sent to two rooms (a workflow and its project) is one `OutboundEvent`:
its payload is turned into JSON once, and each room's envelope embeds that JSON
as a fragment instead of serialising the payload again.

The envelope starts with the room's position (`offset`, `epoch`), followed by
the rest. Where the position is assigned elsewhere (a Redis script), the rest
is handed over as bytes and the position is written in front of it there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticSerializationError

from websocket.protocol import jsonlib
from websocket.protocol.event_types import EventType, JsonObject, Payload
from websocket.protocol.replay import Replay


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 in UTC with millisecond precision and a `Z`, as JavaScript's Date prints it."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def position_prefix(offset: int | None, epoch: str | None) -> bytes:
    if offset is None or epoch is None:
        return b'{"offset":null,"epoch":null,'
    return b'{"offset":%d,"epoch":"%s",' % (offset, epoch.encode())


def _payload_json(payload: Payload) -> bytes:
    try:
        return payload.__pydantic_serializer__.to_json(payload)
    except PydanticSerializationError:
        # A string holding a lone surrogate (see jsonlib): UTF-8 cannot carry it, escaped JSON can.
        return jsonlib.escaped(payload.model_dump(mode="json")).encode()


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    id: str
    type: EventType
    timestamp: str
    data_json: bytes
    replay: Replay = Replay.ALL
    key: str = ""  # compaction key under a `latest` replay policy

    @classmethod
    def create(cls, payload: Payload) -> OutboundEvent:
        return cls(
            id=str(uuid.uuid4()),
            type=payload.event_type,
            timestamp=utc_timestamp(),
            data_json=_payload_json(payload),
            replay=payload.replay,
            key=payload.replay.key_of(payload),
        )

    def rest(self, room: str | None) -> bytes:
        """The envelope after its position: `"id":…,…,"data":{…}}`."""
        body = jsonlib.dumpb(
            {
                "id": self.id,
                "type": self.type.value,
                "room": room,
                "timestamp": self.timestamp,
                "data": jsonlib.Fragment(self.data_json),
            }
        )
        return body[1:]

    def envelope(self, room: str | None, offset: int | None = None, epoch: str | None = None) -> bytes:
        """The whole envelope for one room (or for one connection when room is None)."""
        return position_prefix(offset, epoch) + self.rest(room)


class EventEnvelope(BaseModel):
    """What every event looks like on the wire; clients read `event.data.<field>`."""

    model_config = ConfigDict(extra="forbid")
    offset: int | None = Field(
        description="Position in the room's stream, strictly increasing per room; null for events that "
        "are not kept (replay none) and for events sent to one connection"
    )
    epoch: str | None = Field(
        description="Identity of the room's stream; a new epoch means history was reset"
    )
    id: UUID
    type: EventType
    room: str | None = Field(
        description="The room it was delivered through; null when sent to one connection"
    )
    timestamp: datetime
    data: JsonObject
    replayed: bool = Field(default=False, description="Present, and true, on events re-sent by a resume")
