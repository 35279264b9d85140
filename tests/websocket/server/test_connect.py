"""Connecting: URL forms, transports, tokens, refusals, the established notice."""

from __future__ import annotations

import jwt
import pytest

from tests.conftest import ClientFactory
from tests.support.clients import Client, ConnectRefused
from tests.support.servers import FAST_PATH_OFF, LiveServer
from tests.support.tokens import SECRET, token
from websocket.internals.fastsocket import FastSocket
from websocket.protocol.paths import DEFAULT_ENGINEIO_PATH, ENGINEIO_PATH

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_the_server_under_test_has_the_sockets_ws_fast_path_asks_for(
    server: LiveServer, connect: ClientFactory, transports: list[str]
) -> None:
    """The Makefile's second pass (WS_FAST_PATH=false) really runs on python-engineio's own sockets."""
    client = await connect(transports=transports)
    socket = server.sio.eio.sockets[client.sio.eio.sid]
    assert server.settings.ws_fast_path is not FAST_PATH_OFF
    assert (type(socket) is FastSocket) is not FAST_PATH_OFF


@pytest.mark.parametrize("path", [ENGINEIO_PATH, DEFAULT_ENGINEIO_PATH])
@pytest.mark.parametrize("transports", [["polling", "websocket"], ["websocket"], ["polling"]])
async def test_connects_on_both_paths_and_transports(
    connect: ClientFactory, path: str, transports: list[str]
) -> None:
    client = await connect(token("u-path"), path=path, transports=transports)
    established = await client.wait_for("connection.established")
    assert established["data"]["connection_id"] == client.sid
    assert client.sio.transport() == transports[-1] or transports == ["polling", "websocket"]


async def test_established_notice_content(connect: ClientFactory, server: LiveServer) -> None:
    client = await connect(token("u-est"))
    event = await client.wait_for("connection.established")
    assert event["type"] == "connection.established"
    assert event["room"] is None
    data = event["data"]
    assert data["user_id"] == "u-est"
    assert data["rooms"] == ["global", "user:u-est"]
    assert data["server_time"].endswith("Z")
    assert data["ping_interval"] == server.settings.ping_interval
    # The original quick-start's listener name fires too, with the same event.
    legacy = await client.wait_for("connection_established")
    assert legacy == event


async def test_token_in_query_string(connect: ClientFactory) -> None:
    client = await connect(None, query=f"token={token('u-query')}")
    event = await client.wait_for("connection.established")
    assert event["data"]["user_id"] == "u-query"


async def test_auth_token_wins_over_query(connect: ClientFactory) -> None:
    client = await connect(token("u-auth"), query=f"token={token('u-other')}")
    assert (await client.wait_for("connection.established"))["data"]["user_id"] == "u-auth"


REFUSALS = [
    (None, "AUTH_REQUIRED"),
    ("", "AUTH_REQUIRED"),
    ("garbage", "AUTH_INVALID"),
    (token("u1", secret="x" * 64), "AUTH_INVALID"),
    (token("u1", token_type="refresh"), "AUTH_INVALID"),
    (
        jwt.encode(
            {"sub": "u1", "email": "e", "role": "user", "token_type": "access", "exp": 2**40},
            None,
            algorithm="none",
        ),
        "AUTH_INVALID",
    ),
    (
        jwt.encode(
            {"sub": "u1", "email": "e", "role": "user", "token_type": "access", "exp": 2**40},
            SECRET,
            algorithm="HS512",
        ),
        "AUTH_INVALID",
    ),
    (token("u1", ttl_seconds=-10), "AUTH_EXPIRED"),
]


@pytest.mark.parametrize(("raw", "code"), REFUSALS)
async def test_refusals_carry_code_and_message(server: LiveServer, raw: str | None, code: str) -> None:
    client = Client()
    with pytest.raises(ConnectRefused) as info:
        await client.connect(server.url, raw)
    assert info.value.data["code"] == code
    assert info.value.data["message"]
    assert SECRET not in str(info.value.data)
    assert len(server.registry) == 0 or all(c.user.id != "u1" for c in server.registry)


async def test_unknown_namespace_is_refused(server: LiveServer) -> None:
    import socketio

    refused: list[object] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data: refused.append(data), namespace="/")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url, namespaces=["/"], auth={"token": token()}, socketio_path=ENGINEIO_PATH, wait_timeout=5
        )
    await sio.disconnect()
    assert refused and refused[0]["data"]["code"] == "INVALID_NAMESPACE"


async def test_unexpected_error_in_connect_refuses_cleanly(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(conn: object) -> None:
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(server.registry, "add", boom)
    client = Client()
    with pytest.raises(ConnectRefused) as info:
        await client.connect(server.url, token("u-boom"))
    assert info.value.data["code"] == "INTERNAL_ERROR"
    assert "fire" not in info.value.data["message"]
    # nothing half-registered: no room still holds the refused session
    rooms = server.sio.manager.rooms.get("/ws", {})
    assert "user:u-boom" not in rooms


async def test_disconnect_releases_registry(connect: ClientFactory, server: LiveServer) -> None:
    client = await connect(token("u-bye"))
    await client.wait_for("connection.established")
    assert server.registry.count_of_user("u-bye") == 1
    await client.close()
    from tests.support.net import eventually

    await eventually(lambda: server.registry.count_of_user("u-bye") == 0)
    assert "user:u-bye" not in server.sio.manager.rooms.get("/ws", {})
