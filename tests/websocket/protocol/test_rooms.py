from __future__ import annotations

import uuid

import pytest

from websocket.access.policy import auto_rooms, default_room_policy
from websocket.access.tokens import Principal
from websocket.protocol import rooms
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.rooms import Room, RoomKind, parse_room, room_name

PID = "550e8400-e29b-41d4-a716-446655440000"
HEX = PID.replace("-", "")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("global", Room(RoomKind.GLOBAL)),
        ("user:u-1", Room(RoomKind.USER, "u-1")),
        (f"project:{PID}", Room(RoomKind.PROJECT, PID)),
        (f"project:{PID.upper()}", Room(RoomKind.PROJECT, PID)),
        (f"project:{PID[:9]}E29B{PID[13:]}", Room(RoomKind.PROJECT, PID)),
        (f"agent:{PID}", Room(RoomKind.AGENT, PID)),
        (f"workflow:{PID}", Room(RoomKind.WORKFLOW, PID)),
    ],
)
def test_valid_rooms(name: str, expected: Room) -> None:
    assert parse_room(name) == expected
    assert str(parse_room(name)) == str(expected)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "global:1",
        "project",
        "project:",
        "project:123",
        "project:not-a-uuid-at-all-but-36-chars!",
        f"project:{{{PID}}}",
        f"project:{PID.replace('-', '')}",
        "team:1",
        "user:",
        "user:a b",
        "USER:x",
        f"workflow:{PID}x",
        "x" * 500,
        ":",
    ],
)
def test_invalid_rooms(name: str) -> None:
    with pytest.raises(WebSocketError) as info:
        parse_room(name)
    assert info.value.code is ErrorCode.INVALID_ROOM


# Spellings Python's uuid.UUID accepts besides the canonical one (those of 36
# characters were accepted and canonicalised before): the API refuses them all.
NON_CANONICAL_IDS = {
    "urn prefix, 36 characters": f"urn:{HEX}",
    "urn:uuid prefix": f"urn:uuid:{PID}",
    "uuid prefix": f"uuid:{HEX}",
    "braces around the canonical form": f"{{{PID}}}",
    "hyphen-less": HEX,
    "hyphens elsewhere": f"{HEX[:8]}-{HEX[8:12]}{HEX[12:16]}-{HEX[16:20]}-{HEX[20:]}-",
    "full-width digits": PID.translate(FULL_WIDTH),
    "one full-width digit": "５" + PID[1:],
    "arabic-indic digit": "\u0665" + PID[1:],
    "trailing newline": PID + "\n",
}


@pytest.mark.parametrize("kind", ["project", "agent", "workflow"])
@pytest.mark.parametrize("room_id", NON_CANONICAL_IDS.values(), ids=NON_CANONICAL_IDS.keys())
def test_only_the_canonical_ascii_uuid_form_is_a_room_id(kind: str, room_id: str) -> None:
    with pytest.raises(WebSocketError) as info:
        parse_room(f"{kind}:{room_id}")
    assert info.value.code is ErrorCode.INVALID_ROOM


@pytest.mark.parametrize("value", [None, 1, ["global"], {"room": "global"}])
def test_non_string_room_is_invalid_payload(value: object) -> None:
    with pytest.raises(WebSocketError) as info:
        parse_room(value)
    assert info.value.code is ErrorCode.INVALID_PAYLOAD


def test_room_name_accepts_uuid_objects() -> None:
    assert room_name(RoomKind.PROJECT, uuid.UUID(PID)) == f"project:{PID}"


def test_a_uuid_room_name_is_the_parsed_one_and_the_kept_names_stay_bounded() -> None:
    """UUID ids skip the parse (their text is canonical already) and their names are kept, up to a bound."""
    for kind in (RoomKind.PROJECT, RoomKind.AGENT, RoomKind.WORKFLOW):
        for _ in range(rooms._UUID_ROOMS_KEPT + 10):
            room_id = uuid.uuid4()
            assert room_name(kind, room_id) == str(parse_room(f"{kind.value}:{str(room_id).upper()}"))
        assert len(rooms._UUID_ROOMS[kind]) <= rooms._UUID_ROOMS_KEPT
    assert room_name(RoomKind.USER, "alice") == "user:alice"  # not a UUID kind: parsed as before


def user(role: str = "user", scopes: tuple[str, ...] = (), uid: str = "u1") -> Principal:
    return Principal(id=uid, email="e", role=role, scopes=frozenset(scopes))


def test_auto_rooms() -> None:
    assert auto_rooms(user(uid="abc")) == ["user:abc", "global"]


@pytest.mark.parametrize(
    ("principal", "room", "allowed"),
    [
        (user(), "global", True),
        (user(uid="u1"), "user:u1", True),
        (user(uid="u1"), "user:u2", False),
        (user("admin"), "user:u2", True),
        (user("admin"), f"project:{PID}", True),
        (user(), f"project:{PID}", False),
        (user(scopes=("projects:read",)), f"project:{PID}", True),
        (user(scopes=(f"project:{PID}",)), f"project:{PID}", True),
        (user(scopes=("project:00000000-0000-0000-0000-000000000000",)), f"project:{PID}", False),
        (user(scopes=("agents:read",)), f"project:{PID}", False),
        (user(scopes=("agents:read",)), f"agent:{PID}", True),
        (user(scopes=(f"agent:{PID}",)), f"agent:{PID}", True),
        (user(scopes=("projects:read",)), f"agent:{PID}", False),
        (user(scopes=("workflows:read",)), f"workflow:{PID}", True),
        (user(scopes=(f"workflow:{PID}",)), f"workflow:{PID}", True),
        (user(), f"workflow:{PID}", False),
    ],
)
async def test_default_policy(principal: Principal, room: str, allowed: bool) -> None:
    assert await default_room_policy(principal, parse_room(room)) is allowed
