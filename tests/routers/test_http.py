"""REST surface: health, CORS on both paths, the development token."""

from __future__ import annotations

import httpx
import pytest
import websockets

from tests.conftest import ClientFactory
from tests.support.clients import Client, ConnectRefused
from tests.support.servers import LiveServer
from tests.support.tokens import token

ALLOWED = "http://localhost:3000"
FOREIGN = "https://evil.example"


async def test_health_counts_connections(server: LiveServer, connect: ClientFactory) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        before = (await http.get("/health")).json()
        await connect()
        await connect()
        after = (await http.get("/health")).json()
    assert before["status"] == after["status"] == "ok"
    assert before["redis"] == "disabled"
    assert after["connections"] == before["connections"] + 2


async def test_rest_cors_has_exactly_one_allow_origin(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        simple = await http.get("/health", headers={"Origin": ALLOWED})
        preflight = await http.options(
            "/health", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
        )
        foreign = await http.get("/health", headers={"Origin": FOREIGN})
    assert simple.headers.get_list("access-control-allow-origin") == [ALLOWED]
    assert preflight.status_code == 200
    assert preflight.headers.get_list("access-control-allow-origin") == [ALLOWED]
    assert foreign.headers.get_list("access-control-allow-origin") == []


@pytest.mark.parametrize("path", ["/socket.io/", "/ws/socket.io/"])
async def test_socketio_cors_has_exactly_one_allow_origin(server: LiveServer, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(
            path, params={"EIO": "4", "transport": "polling"}, headers={"Origin": ALLOWED}
        )
        preflight = await http.options(
            path, params={"EIO": "4", "transport": "polling"},
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        )  # fmt: skip
    assert response.status_code == 200
    assert response.headers.get_list("access-control-allow-origin") == [ALLOWED]
    assert preflight.headers.get_list("access-control-allow-origin") == [ALLOWED]


@pytest.mark.parametrize("path", ["/socket.io/", "/ws/socket.io/"])
async def test_foreign_origin_is_refused_at_handshake(server: LiveServer, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(
            path, params={"EIO": "4", "transport": "polling"}, headers={"Origin": FOREIGN}
        )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    ws_url = server.url.replace("http", "ws") + path + "?EIO=4&transport=websocket"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url, origin=FOREIGN):  # type: ignore[arg-type]
            pass


async def test_foreign_origin_python_client_is_refused(server: LiveServer) -> None:
    with pytest.raises(ConnectRefused):
        await Client().connect(server.url, token(), headers={"Origin": FOREIGN}, transports=["websocket"])


async def test_same_origin_is_always_allowed(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(
            "/ws/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Origin": server.url}
        )
    assert response.status_code == 200


async def test_dev_token_endpoint_gives_a_working_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = (await http.get("/ws/dev-token")).json()
    assert body["user_id"] == "dev-user"
    client = await Client().connect(server.url, body["token"])
    try:
        event = await client.wait_for("connection.established")
        assert event["data"]["user_id"] == "dev-user"
        project = "project:550e8400-e29b-41d4-a716-446655440000"
        assert (await client.call("subscribe", {"room": project}))["status"] == "success"
    finally:
        await client.close()


async def test_openapi_lists_health(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        spec = (await http.get("/openapi.json")).json()
    assert "/health" in spec["paths"]
