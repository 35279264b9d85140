"""Room names: what a room is called on the wire, and the one canonical spelling of each.

Rooms are namespaced like Centrifugo channels: `<kind>:<id>`, plus the
singleton `global`. A UUID id is accepted only in its ASCII canonical form,
8-4-4-4-12 hex digits in any letter case, and normalised to lower case, so
`project:ABC…` and `project:abc…` are one room. Python's `uuid.UUID` would
also take `urn:uuid:`, braces, no hyphens and non-ASCII digits (full-width
`１`), which the API refuses: each spelling would be a way around a per-room
scope check or a log search, for no client that needs it.

Who may join which room is `websocket.access.policy`'s business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from websocket.protocol.errors import ErrorCode, WebSocketError

# `user:` plus a 128-character sub fits; the command model (RoomCommand) checks it first.
MAX_ROOM_LENGTH = 160
# Explicit ASCII classes: `\d` or str.isdigit() would match full-width and other digits.
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RoomKind(StrEnum):
    USER = "user"
    GLOBAL = "global"
    PROJECT = "project"
    AGENT = "agent"
    WORKFLOW = "workflow"


@dataclass(frozen=True, slots=True)
class Room:
    kind: RoomKind
    id: str | None = None

    def __str__(self) -> str:
        return self.kind.value if self.id is None else f"{self.kind.value}:{self.id}"


# Room names of UUID ids, by kind: a producer names the same few rooms event after event.
_UUID_ROOMS: dict[RoomKind, dict[UUID, str]] = {
    RoomKind.PROJECT: {},
    RoomKind.AGENT: {},
    RoomKind.WORKFLOW: {},
}
_UUID_ROOMS_KEPT = 4096  # per kind; past it the names are made again


def room_name(kind: RoomKind, room_id: object) -> str:
    """The canonical room name for an id (UUID objects or strings).

    A `uuid.UUID` prints in the canonical form already (lower case, 8-4-4-4-12),
    so its room is not parsed again, and its name is kept (printing a UUID
    costs more than the rest of naming a room; every publish names its rooms).
    """
    names = _UUID_ROOMS.get(kind) if type(room_id) is UUID else None
    if names is None:
        return str(parse_room(f"{kind.value}:{room_id}"))
    uuid_id: UUID = room_id  # type: ignore[assignment]
    name = names.get(uuid_id)
    if name is None:
        if len(names) >= _UUID_ROOMS_KEPT:
            names.clear()
        name = names[uuid_id] = f"{kind.value}:{uuid_id}"
    return name


def _invalid(message: str) -> WebSocketError:
    return WebSocketError(message, ErrorCode.INVALID_ROOM)


def parse_room(name: object) -> Room:
    """Validate a room name from the wire; raise INVALID_ROOM when it is not one."""
    if not isinstance(name, str):
        raise WebSocketError("room must be a string", ErrorCode.INVALID_PAYLOAD)
    if not name or len(name) > MAX_ROOM_LENGTH:
        raise _invalid(f"room must be 1 to {MAX_ROOM_LENGTH} characters")
    if name == RoomKind.GLOBAL.value:
        return Room(RoomKind.GLOBAL)
    kind_text, sep, room_id = name.partition(":")
    try:
        kind = RoomKind(kind_text)
    except ValueError:
        kind = None
    if not sep or kind is None or kind is RoomKind.GLOBAL:
        raise _invalid(
            "unknown room; expected global, user:<id>, project:<uuid>, agent:<uuid> or workflow:<uuid>"
        )
    if kind is RoomKind.USER:
        if not room_id or not room_id.isprintable() or any(ch.isspace() for ch in room_id):
            raise _invalid("user room id must be non-empty printable text without spaces")
        return Room(kind, room_id)
    if _CANONICAL_UUID.fullmatch(room_id) is None:
        raise _invalid(f"{kind.value} room id must be a UUID like 550e8400-e29b-41d4-a716-446655440000")
    return Room(kind, room_id.lower())
