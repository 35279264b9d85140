"""Client commands: subscribe, unsubscribe, debug:rooms, and everything malformed."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import ClientFactory
from tests.support.clients import Client
from tests.support.raw import RawSocket
from tests.support.servers import LiveServer
from tests.support.tokens import token
from websocket.access.policy import set_room_policy
from websocket.access.tokens import Principal
from websocket.protocol.rooms import MAX_ROOM_LENGTH, Room, RoomKind

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

PID = str(uuid.uuid4())
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


async def test_subscribe_unsubscribe_and_debug_rooms(connect: ClientFactory) -> None:
    client = await connect(token("u-cmd"))
    assert await client.call("debug:rooms", {}) == {"status": "success", "rooms": ["global", "user:u-cmd"]}
    ack = await client.call("subscribe", {"room": f"project:{PID}"})
    # a room no event was ever sent to: position zero of no stream yet
    assert ack == {"status": "success", "room": f"project:{PID}", "position": {"offset": 0, "epoch": ""}}
    rooms = (await client.call("debug:rooms", {}))["rooms"]
    assert rooms == sorted(["global", "user:u-cmd", f"project:{PID}"])
    assert await client.call("unsubscribe", {"room": f"project:{PID}"}) == {
        "status": "success",
        "room": f"project:{PID}",
    }
    assert (await client.call("debug:rooms", {}))["rooms"] == ["global", "user:u-cmd"]


async def test_room_names_are_normalised(connect: ClientFactory) -> None:
    client = await connect()
    ack = await client.call("subscribe", {"room": f"project:{PID.upper()}"})
    assert (ack["status"], ack["room"]) == ("success", f"project:{PID}")


async def test_subscribe_twice_is_idempotent(connect: ClientFactory) -> None:
    client = await connect()
    for _ in range(2):
        assert (await client.call("subscribe", {"room": f"workflow:{PID}"}))["status"] == "success"
    assert (await client.call("debug:rooms", {}))["rooms"].count(f"workflow:{PID}") == 1


@pytest.mark.parametrize("room", ["global", "user:u-auto"])
async def test_auto_rooms_cannot_be_left(connect: ClientFactory, room: str) -> None:
    client = await connect(token("u-auto"))
    ack = await client.call("unsubscribe", {"room": room})
    assert ack["status"] == "error" and ack["code"] == "ROOM_NOT_LEAVABLE"
    assert room in (await client.call("debug:rooms", {}))["rooms"]


@pytest.mark.parametrize(
    ("scopes", "room"),
    [
        ((), f"project:{PID}"),
        (("agents:read",), f"project:{PID}"),
        (("projects:read",), f"agent:{PID}"),
        (("projects:read",), f"workflow:{PID}"),
        (("projects:read",), "user:someone-else"),
        ((f"project:{uuid.uuid4()}",), f"project:{PID}"),
    ],
)
async def test_forbidden_rooms(connect: ClientFactory, scopes: tuple[str, ...], room: str) -> None:
    client = await connect(token("u-deny", scopes=scopes))
    ack = await client.call("subscribe", {"room": room})
    assert ack["status"] == "error" and ack["code"] == "FORBIDDEN", ack
    assert room not in (await client.call("debug:rooms", {}))["rooms"]


async def test_scope_for_one_project_grants_only_that_project(connect: ClientFactory) -> None:
    client = await connect(token("u-one", scopes=[f"project:{PID}"]))
    assert (await client.call("subscribe", {"room": f"project:{PID}"}))["status"] == "success"


async def test_admin_may_join_any_room(connect: ClientFactory) -> None:
    client = await connect(token("root", role="admin", scopes=()))
    for room in (f"project:{PID}", f"agent:{PID}", f"workflow:{PID}", "user:someone"):
        assert (await client.call("subscribe", {"room": room}))["status"] == "success"


async def test_room_policy_is_pluggable(connect: ClientFactory) -> None:
    async def members_only(user: Principal, room: Room) -> bool:
        return room.kind is RoomKind.PROJECT and user.id == "member"

    set_room_policy(members_only)
    member = await connect(token("member", scopes=()))
    outsider = await connect(token("outsider", role="admin"))
    assert (await member.call("subscribe", {"room": f"project:{PID}"}))["status"] == "success"
    assert (await outsider.call("subscribe", {"room": f"project:{PID}"}))["code"] == "FORBIDDEN"


BAD_PAYLOADS = [
    ("subscribe", ["not a dict"], "INVALID_PAYLOAD"),
    ("subscribe", [None], "INVALID_PAYLOAD"),
    ("subscribe", [[1, 2]], "INVALID_PAYLOAD"),
    ("subscribe", [{}], "INVALID_PAYLOAD"),
    ("subscribe", [{"room": 5}], "INVALID_PAYLOAD"),
    ("subscribe", [{"room": "global", "extra": True}], "INVALID_PAYLOAD"),
    ("subscribe", [{"room": "project:123"}], "INVALID_ROOM"),
    ("subscribe", [{"room": "team:x"}], "INVALID_ROOM"),
    ("subscribe", [{"room": "x" * 300}], "INVALID_PAYLOAD"),
    # One limit on length, the command model's: INVALID_ROOM from 161 to 200 characters before.
    ("subscribe", [{"room": "user:" + "x" * (MAX_ROOM_LENGTH - 4)}], "INVALID_PAYLOAD"),
    # Forms uuid.UUID accepts and the API refuses (they were canonicalised and joined before).
    ("subscribe", [{"room": f"project:urn:{PID.replace('-', '')}"}], "INVALID_ROOM"),
    ("subscribe", [{"room": f"project:{PID.translate(FULL_WIDTH)}"}], "INVALID_ROOM"),
    ("presence", [{"room": f"workflow:{{{PID.replace('-', '')}}}"}], "INVALID_ROOM"),
    ("subscribe", [{"room": "global"}, {"room": "global"}], "INVALID_PAYLOAD"),
    ("unsubscribe", [{"room": "project:zzz"}], "INVALID_ROOM"),
    ("unsubscribe", [42], "INVALID_PAYLOAD"),
    ("debug:rooms", [{"unexpected": 1}], "INVALID_PAYLOAD"),
    ("no-such-command", [{}], "UNKNOWN_COMMAND"),
]


@pytest.mark.parametrize(("command", "args", "code"), BAD_PAYLOADS)
async def test_bad_commands_get_structured_errors(
    connect: ClientFactory, command: str, args: list[object], code: str
) -> None:
    client = await connect()
    ack = await client.call(command, *args)
    assert ack["status"] == "error" and ack["code"] == code, ack
    assert isinstance(ack["message"], str) and ack["message"]
    # and the connection is still perfectly usable
    assert (await client.call("debug:rooms", {}))["status"] == "success"


async def test_command_without_payload_is_answered(connect: ClientFactory) -> None:
    client = await connect()
    ack = await client.sio.call("debug:rooms", namespace="/ws", timeout=5)
    assert ack["status"] == "success"
    ack = await client.sio.call("subscribe", namespace="/ws", timeout=5)
    assert ack["code"] == "INVALID_PAYLOAD"


async def test_non_string_event_name_is_answered_without_disconnect(server: LiveServer) -> None:
    """A raw Socket.IO packet whose event name is a number still gets an error ack."""
    async with RawSocket(server.url, token()) as raw:
        await raw.send_packet('2/ws,7[42,{"room":"global"}]')
        ack = await raw.next_ack(7)
        assert ack[0]["code"] == "INVALID_PAYLOAD"
        await raw.send_packet('2/ws,8["debug:rooms",{}]')
        assert (await raw.next_ack(8))[0]["status"] == "success"


async def test_many_commands_in_parallel_all_answered(connect: ClientFactory) -> None:
    client = await connect()
    acks = await asyncio.gather(  # as many as the rate limit's burst allows
        *(client.call("subscribe", {"room": f"project:{uuid.uuid4()}"}) for _ in range(40))
    )
    assert all(ack["status"] == "success" for ack in acks)


async def test_disconnect_of_polling_client_is_prompt(server: LiveServer) -> None:
    client = await Client().connect(server.url, token(), transports=["polling"])
    await asyncio.wait_for(client.sio.disconnect(), 5)
