"""Room names and who may join them.

Rooms are namespaced like Centrifugo channels: `<kind>:<id>`, plus the
singleton `global`. A UUID id is accepted only in its ASCII canonical form,
8-4-4-4-12 hex digits in any letter case, and normalised to lower case, so
`project:ABC…` and `project:abc…` are one room. Python's `uuid.UUID` would
also take `urn:uuid:`, braces, no hyphens and non-ASCII digits (full-width
`１`), which the API refuses: each spelling would be a way around a per-room
scope check or a log search, for no client that needs it.

Access is decided by a `RoomPolicy`, an async callable the host application
can replace (for instance with a database membership check) through
`set_room_policy()`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from websocket.auth import Principal
from websocket.errors import ErrorCode, WebSocketError

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


# Kinds whose id is a UUID, with the broad scope that grants all rooms of the kind.
_UUID_KINDS = {
    RoomKind.PROJECT: "projects:read",
    RoomKind.AGENT: "agents:read",
    RoomKind.WORKFLOW: "workflows:read",
}


@dataclass(frozen=True, slots=True)
class Room:
    kind: RoomKind
    id: str | None = None

    def __str__(self) -> str:
        return self.kind.value if self.id is None else f"{self.kind.value}:{self.id}"


def room_name(kind: RoomKind, room_id: object) -> str:
    """The canonical room name for an id (UUID objects or strings)."""
    return str(parse_room(f"{kind.value}:{room_id}"))


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


def auto_rooms(user: Principal) -> list[str]:
    """Rooms every connection joins on connect and cannot leave."""
    return [str(Room(RoomKind.USER, user.id)), RoomKind.GLOBAL.value]


def lists_members(viewer: Principal, room: Room) -> bool:
    """Whether `presence` shows `viewer` who is in `room`, beyond the totals.

    Everyone is in `global`, so its member list would be the id of every
    connected user, handed to anyone with a token: only admins see it. Other
    rooms show their list to whoever may join them (the room policy decides).
    """
    return room.kind is not RoomKind.GLOBAL or viewer.is_admin


RoomPolicy = Callable[[Principal, Room], Awaitable[bool]]


async def default_room_policy(user: Principal, room: Room) -> bool:
    """Admins go anywhere; others need their own id or a matching scope."""
    if user.is_admin or room.kind is RoomKind.GLOBAL:
        return True
    if room.kind is RoomKind.USER:
        return room.id == user.id
    return user.has_scope(_UUID_KINDS[room.kind], str(room))


_policy: RoomPolicy = default_room_policy


def set_room_policy(policy: RoomPolicy | None) -> None:
    """Replace the access policy (None restores the default)."""
    global _policy
    _policy = policy or default_room_policy


def get_room_policy() -> RoomPolicy:
    return _policy
