"""Building the envelope an event travels in, serialising its payload once.

An event sent to two rooms (a workflow and its project) is one `OutboundEvent`:
its payload is turned into JSON once, and each room's envelope embeds that JSON
as a fragment instead of serialising the payload again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from websocket import jsonlib
from websocket.models import EventType, Payload


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 in UTC with millisecond precision and a `Z`, as JavaScript's Date prints it."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    id: str
    type: EventType
    timestamp: str
    data_json: bytes

    @classmethod
    def create(cls, payload: Payload) -> OutboundEvent:
        return cls(
            id=str(uuid.uuid4()),
            type=payload.event_type,
            timestamp=utc_timestamp(),
            data_json=payload.__pydantic_serializer__.to_json(payload),
        )

    def envelope(self, room: str | None) -> bytes:
        """The envelope's JSON for one room (or for one connection when room is None)."""
        return jsonlib.dumpb(
            {
                "id": self.id,
                "type": self.type.value,
                "room": room,
                "timestamp": self.timestamp,
                "data": jsonlib.Fragment(self.data_json),
            }
        )
