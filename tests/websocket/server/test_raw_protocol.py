"""Malformed Engine.IO/Socket.IO from a hand-made client: the server and everyone else carry on.

Each frame is sent on a connection of its own; afterwards the server must
still answer, a well-behaved client must still receive its events, and the
log must hold no traceback. The misbehaving connection is either answered
(and still usable) or closed, never left half-broken.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from tests.support.clients import Client
from tests.support.frames import FRAMES
from tests.support.instances import broadcast_from, health
from tests.support.net import eventually
from tests.support.raw import EngineIOClosed, RawSocket
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from websocket.protocol.paths import ENGINEIO_PATH

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

PROJECT = uuid.uuid4()
TOKEN = token("raw-user")

# Engine.IO frames as sent; everything in FRAMES below is also wrapped in a MESSAGE ("4").
ENGINE_FRAMES = ["xyz", "", "7", "9", "99", "0", "0{}", "2", "2probe", "5", "6", "é", "\x00"]
CASES = [("engine.io", frame) for frame in ENGINE_FRAMES] + [
    (kind, frame) for kind, frames in FRAMES.items() for frame in frames
]


@pytest.fixture(scope="module")
async def target() -> AsyncIterator[tuple[ServerProcess, Client]]:
    server = await ServerProcess().start()
    honest = await Client().connect(server.url, token("honest", scopes=["projects:read"]))
    await honest.subscribe(f"project:{PROJECT}")
    yield server, honest
    await honest.close()
    await server.stop()
    assert server.trouble() == [], server.log()


async def connections(server: ServerProcess) -> int:
    return int((await health(server))["connections"])


async def at_most(server: ServerProcess, count: int) -> bool:
    return await connections(server) <= count


async def outcome(raw: RawSocket) -> str:
    """'closed' if the server dropped the connection, 'usable' if it still answers a command."""
    try:
        await raw.send_packet('2/ws,777["debug:rooms",{}]')
        ack = await raw.next_ack(777, timeout=5)
    except (websockets.exceptions.ConnectionClosed, EngineIOClosed):
        return "closed"
    assert ack[0]["status"] == "success", ack
    return "usable"


@pytest.mark.parametrize(("kind", "frame"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
async def test_malformed_frame_harms_no_one_else(
    target: tuple[ServerProcess, Client], kind: str, frame: str | bytes
) -> None:
    server, honest = target
    # The honest client, and any polling session an earlier case left to its ping timeout.
    before = await connections(server)
    async with RawSocket(server.url, TOKEN) as raw:
        raw_frame = isinstance(frame, bytes) or kind in ("oversized", "engine.io")
        await raw.send_frame(frame if raw_frame else "4" + frame)
        result = await outcome(raw)
    assert result in ("closed", "usable")
    assert (await health(server))["status"] == "ok"
    # Nothing half-dead is left behind: the misbehaving connection is no longer registered.
    await eventually(lambda: at_most(server, before))
    before = len(honest.received("project.updated"))
    assert await broadcast_from(server, PROJECT)
    await honest.wait_count("project.updated", before + 1)
    assert honest.sio.connected


async def test_reserved_connect_event_cannot_spoof_the_address(target: tuple[ServerProcess, Client]) -> None:
    server, _ = target
    async with RawSocket(server.url, TOKEN) as raw:
        await raw.send_packet('2/ws,5["connect",{"asgi.scope":{"client":["6.6.6.6",1]}},{"token":"x"}]')
        ack = await raw.next_ack(5)
        assert ack[0]["code"] == "UNKNOWN_COMMAND"
        await raw.send_packet('2/ws,6["disconnect"]')
        assert (await raw.next_ack(6))[0]["code"] == "UNKNOWN_COMMAND"
        assert await outcome(raw) == "usable"
    assert "6.6.6.6" not in server.log()


POLLING_BODIES: list[str | bytes] = ["xyz", b"\xff\xfe\xfd", "4", "42/ws,1[", "1:4", "9", "4" * 10_000]


@pytest.mark.parametrize("body", POLLING_BODIES)
async def test_malformed_polling_post_harms_no_one_else(
    target: tuple[ServerProcess, Client], body: str | bytes
) -> None:
    server, honest = target
    url = f"{server.url}/{ENGINEIO_PATH}/"
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.get(url, params={"EIO": "4", "transport": "polling"})
        params = {"EIO": "4", "transport": "polling", "sid": json.loads(opened.text[1:])["sid"]}
        await http.post(url, params=params, content=f'40/ws,{{"token":"{TOKEN}"}}')
        response = await http.post(url, params=params, content=body)
        assert response.status_code in (200, 400)
    before = len(honest.received("project.updated"))
    assert await broadcast_from(server, PROJECT)
    await honest.wait_count("project.updated", before + 1)
