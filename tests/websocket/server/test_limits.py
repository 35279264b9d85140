"""Limits: connections per instance and per user, subscriptions, command rate, message size, origins."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.clients import Client, ConnectRefused
from tests.support.net import eventually
from tests.support.node import NodeFactory
from tests.support.raw import RawSocket
from tests.support.servers import LiveServer, running
from tests.support.tokens import token
from websocket.protocol.paths import ENGINEIO_PATH

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

PID = uuid.uuid4()
READ = ("projects:read",)


@pytest.fixture(scope="module")
async def small() -> AsyncIterator[LiveServer]:
    """A server with tiny limits, so that reaching them takes a handful of clients."""
    server = LiveServer(
        max_connections=4, max_connections_per_user=2, max_subscriptions_per_connection=3, connect_timeout=1
    )
    async with running(server):
        yield server


async def broadcast_to_project(server: LiveServer, project_id: uuid.UUID) -> None:
    get_broadcaster().attach(server.app.state.transport)
    assert await get_broadcaster().broadcast_project_deleted(project_id=project_id, deleted_by="test")


async def test_connection_limits_refuse_newcomers_only(small: LiveServer) -> None:
    first = [await Client().connect(small.url, token("limited", scopes=READ)) for _ in range(2)]
    try:
        with pytest.raises(ConnectRefused) as per_user:
            await Client().connect(small.url, token("limited"))
        assert per_user.value.data["code"] == "TOO_MANY_CONNECTIONS"
        assert per_user.value.data["retryable"] is False

        others = [await Client().connect(small.url, token(f"other-{i}")) for i in range(2)]
        with pytest.raises(ConnectRefused) as full:
            await Client().connect(small.url, token("newcomer"))
        assert full.value.data["code"] == "SERVER_FULL"
        assert full.value.data["retryable"] is True

        # The connections already there are untouched.
        for client in first:
            await client.subscribe(f"project:{PID}")
        await broadcast_to_project(small, PID)
        for client in first:
            await client.wait_for("project.deleted")

        await others[0].close()
        await eventually(lambda: len(small.registry) == 3)
        newcomer = await Client().connect(small.url, token("newcomer"))
        await newcomer.close()
        for client in others[1:]:
            await client.close()
    finally:
        for client in first:
            await client.close()
    await eventually(lambda: len(small.registry) == 0)


async def test_js_client_sees_the_limit_code(small: LiveServer, node: NodeFactory) -> None:
    js = await node()
    for name in ("a", "b"):
        assert (await js.connect(small.url + "/ws", sock=name, auth={"token": token("js-limited")}))["ok"]
    reply = await js.connect(small.url + "/ws", sock="c", auth={"token": token("js-limited")})
    assert not reply["ok"] and reply["error"]["data"]["code"] == "TOO_MANY_CONNECTIONS"


async def test_subscription_limit(small: LiveServer) -> None:
    client = await Client().connect(small.url, token("subscriber", scopes=READ))
    try:
        rooms = [f"project:{uuid.uuid4()}" for _ in range(3)]
        for room in rooms:
            await client.subscribe(room)
        ack = await client.call("subscribe", {"room": f"project:{uuid.uuid4()}"})
        assert ack["status"] == "error" and ack["code"] == "SUBSCRIPTION_LIMIT", ack
        assert (await client.call("subscribe", {"room": rooms[0]}))["status"] == "success"  # already in
        assert (await client.call("unsubscribe", {"room": rooms[0]}))["status"] == "success"
        await client.subscribe(f"project:{uuid.uuid4()}")
    finally:
        await client.close()


async def test_rate_limit_refuses_then_recovers(connect: ClientFactory) -> None:
    client = await connect()
    acks = await asyncio.gather(*(client.call("debug:rooms", {}) for _ in range(60)))
    codes = [ack.get("code") for ack in acks]
    assert codes.count(None) >= 40  # the burst
    assert "RATE_LIMITED" in codes
    limited = next(ack for ack in acks if ack.get("code") == "RATE_LIMITED")
    assert limited["retryable"] is True and limited["message"]
    assert client.sio.connected
    await asyncio.sleep(0.2)  # four commands' worth of refill at 20/s
    assert (await client.call("debug:rooms", {}))["status"] == "success"


async def test_flooding_client_is_told_and_disconnected(server: LiveServer, connect: ClientFactory) -> None:
    honest = await connect(token("honest", scopes=READ))
    await honest.subscribe(f"project:{PID}")
    flooder = await connect(token("flooder"))
    for _ in range(400):  # no waiting for acks: a flood
        await flooder.emit("debug:rooms", {})
    error = await flooder.wait_for("connection.error")
    assert error["data"]["code"] == "RATE_LIMITED"
    await eventually(lambda: not flooder.sio.connected)
    await eventually(lambda: server.registry.count_of_user("flooder") == 0)
    await broadcast_to_project(server, PID)
    await honest.wait_for("project.deleted")
    assert honest.sio.connected


async def test_broadcasts_to_a_rate_limited_client_are_not_limited(
    server: LiveServer, connect: ClientFactory
) -> None:
    client = await connect(token("busy", scopes=READ))
    project = uuid.uuid4()
    await client.subscribe(f"project:{project}")
    for _ in range(50):
        await client.emit("debug:rooms", {})  # exhaust its command budget
    for _ in range(300):
        await broadcast_to_project(server, project)
    events = await client.wait_count("project.deleted", 300)
    assert len(events) == 300
    assert client.sio.connected


async def drain(raw: RawSocket) -> None:
    while True:  # the connection.established notices come first
        await raw.recv(timeout=5)


async def test_oversized_websocket_message_is_refused_without_harm(
    server: LiveServer, connect: ClientFactory
) -> None:
    honest = await connect(token("honest-big", scopes=READ))
    await honest.subscribe(f"project:{PID}")
    limit = server.settings.max_http_buffer_size
    async with RawSocket(server.url, token("big-sender")) as raw:
        await raw.send_packet('2/ws,1["subscribe",{"room":"' + "x" * limit + '"}]')
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await drain(raw)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    await eventually(lambda: server.registry.count_of_user("big-sender") == 0)
    await broadcast_to_project(server, PID)
    await honest.wait_for("project.deleted")


async def test_oversized_polling_message_is_refused_without_harm(
    server: LiveServer, connect: ClientFactory
) -> None:
    honest = await connect(token("honest-poll", scopes=READ))
    await honest.subscribe(f"project:{PID}")
    url = f"{server.url}/{ENGINEIO_PATH}/"
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.get(url, params={"EIO": "4", "transport": "polling"})
        sid = json.loads(opened.text[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        await http.post(url, params=params, content='40/ws,{"token":"' + token("poll-sender") + '"}')
        await eventually(lambda: server.registry.count_of_user("poll-sender") == 1)
        big = '42/ws,["subscribe",{"room":"' + "x" * server.settings.max_http_buffer_size + '"}]'
        response = await http.post(url, params=params, content=big)
        assert response.status_code == 413
    await eventually(lambda: server.registry.count_of_user("poll-sender") == 0)
    await broadcast_to_project(server, PID)
    await honest.wait_for("project.deleted")


async def test_forged_origin_is_refused_for_the_js_client_too(server: LiveServer, node: NodeFactory) -> None:
    js = await node()
    reply = await js.connect(
        server.url + "/ws",
        transports=["websocket"],
        extraHeaders={"Origin": "https://evil.example"},
        auth={"token": token()},
    )
    assert not reply["ok"], reply
    allowed = await js.connect(
        server.url + "/ws",
        sock="allowed",
        transports=["websocket"],
        extraHeaders={"Origin": "http://localhost:3000"},
        auth={"token": token()},
    )
    assert allowed["ok"], allowed


async def test_handshakes_without_a_token_cannot_pile_up(small: LiveServer) -> None:
    url = f"{small.url}/{ENGINEIO_PATH}/"
    params = {"EIO": "4", "transport": "polling"}
    async with httpx.AsyncClient(timeout=10) as http:
        responses = [await http.get(url, params=params) for _ in range(25)]
        statuses = [response.status_code for response in responses]
        # MAX_CONNECTIONS 4 plus headroom for handshakes in progress (16), then refused
        # before Engine.IO allocates anything, with a reason and when to come back.
        assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {503}, statuses
        refused = responses[-1]
        assert refused.json() == {
            "code": "SERVER_FULL", "message": "This instance is full; try again later", "retryable": True,
        }  # fmt: skip
        assert refused.headers["retry-after"] == "1"  # CONNECT_TIMEOUT: the pile is gone by then
        # Sessions that never join /ws are closed after CONNECT_TIMEOUT (1 s here)...
        await eventually(lambda: len(small.sio.eio.sockets) == 0, timeout=10)
        # ...which makes room for real clients again.
        assert (await http.get(url, params=params)).status_code == 200
    client = await Client().connect(small.url, token("after-the-pile"))
    await client.close()
