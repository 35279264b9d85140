"""Building the envelope an event travels in, serialising its payload once.

An event sent to two rooms (a workflow and its project) is one `OutboundEvent`:
its payload is turned into JSON once, and each room's envelope embeds that JSON
as a fragment instead of serialising the payload again.

The envelope starts with the room's position (`offset`, `epoch`), followed by
the rest. Where the position is assigned elsewhere (a Redis script), the rest
is handed over as bytes and the position is written in front of it there.

What an event costs before its first recipient is counted in microseconds
(bench/publish_cost.py), so the envelope is written by formatting bytes around
the payload's JSON rather than by building a dict and serialising it: every
part but the room is a fixed alphabet (hex, digits, event type names) that
needs no escaping. Event ids come from a pool refilled 256 at a time from
`os.urandom` (random version-4 UUIDs, as `uuid.uuid4()` makes them), and the
timestamp text is made once per millisecond.
"""

from __future__ import annotations

import os
import time
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


_POOL = 256
_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT = bytes((byte & 0x3F) | 0x80 for byte in range(256))


class _Ids:
    """Version-4 UUID strings, made from `os.urandom` a pool at a time (one syscall per 256 ids)."""

    __slots__ = ("_pool",)

    def __init__(self) -> None:
        self._pool: list[str] = []

    def _fill(self) -> None:
        raw = bytearray(os.urandom(16 * _POOL))
        # RFC 4122: version 4 in the high nibble of byte 6, variant bits 10 at the top of byte 8.
        raw[6::16] = raw[6::16].translate(_VERSION_4)
        raw[8::16] = raw[8::16].translate(_VARIANT)
        h = raw.hex()
        self._pool = [
            f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * _POOL, 32)
        ]  # fmt: skip

    def next(self) -> str:
        pool = self._pool
        if not pool:
            self._fill()
            pool = self._pool
        return pool.pop()


class _Clock:
    """`utc_timestamp()` of now, made once per millisecond (and its date-time part once per second)."""

    __slots__ = ("_ms", "_second", "_seconds_text", "_text")

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""
        self._second = -1
        self._seconds_text = ""

    def now(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            second, millis = divmod(ms, 1000)
            if second != self._second:
                self._second = second
                self._seconds_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._ms = ms
            self._text = f"{self._seconds_text}.{millis:03d}Z"
        return self._text


new_event_id = _Ids().next
now_timestamp = _Clock().now


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


_type_names: dict[type, str] = {}  # payload class -> its event type's name


@dataclass(slots=True)  # not frozen (a frozen __init__ costs a call per field), but never changed
class OutboundEvent:
    id: str
    type: EventType
    # `type.value`, read at every step of a publish: an enum member's `.value` is a Python
    # property (a call each time), this is a plain str.
    name: str
    timestamp: str
    data_json: bytes
    replay: Replay = Replay.ALL
    key: str = ""  # compaction key under a `latest` replay policy

    @classmethod
    def create(cls, payload: Payload) -> OutboundEvent:
        replay = payload.replay
        kind = type(payload)
        name = _type_names.get(kind)
        if name is None:
            name = _type_names[kind] = payload.event_type.value
        return cls(
            new_event_id(),
            payload.event_type,
            name,
            now_timestamp(),
            _payload_json(payload),
            replay,
            replay.key_of(payload) if replay.key else "",
        )

    def rest(self, room: str | None) -> bytes:
        """The envelope after its position: `"id":…,…,"data":{…}}`."""
        return b'"id":"%s","type":"%s","room":%s,"timestamp":"%s","data":%s}' % (
            self.id.encode(),
            self.name.encode(),
            b"null" if room is None else jsonlib.dumpb(room),
            self.timestamp.encode(),
            self.data_json,
        )

    def envelope(self, room: str | None, offset: int | None = None, epoch: str | None = None) -> bytes:
        """The whole envelope for one room (or for one connection when room is None)."""
        if offset is None or epoch is None:
            return position_prefix(None, None) + self.rest(room)
        # position_prefix(offset, epoch) + rest(room), in one formatting
        return b'{"offset":%d,"epoch":"%s","id":"%s","type":"%s","room":%s,"timestamp":"%s","data":%s}' % (
            offset,
            epoch.encode(),
            self.id.encode(),
            self.name.encode(),
            b"null" if room is None else jsonlib.dumpb(room),
            self.timestamp.encode(),
            self.data_json,
        )


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
