"""Who may join which room: the room policy, and the rooms every connection has.

Access is decided by a `RoomPolicy`, an async callable `(principal, room) -> bool`
the host application can replace (for instance with a database membership
check) through `set_room_policy()`. Auto-joined rooms (`user:<own id>`,
`global`) are not submitted to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from websocket.access.tokens import Principal
from websocket.protocol.rooms import Room, RoomKind

# Kinds whose id is a UUID, with the broad scope that grants all rooms of the kind.
_UUID_KINDS = {
    RoomKind.PROJECT: "projects:read",
    RoomKind.AGENT: "agents:read",
    RoomKind.WORKFLOW: "workflows:read",
}


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
