"""A client that vanishes without closing (a network cut) is found by ping timeout and cleaned up."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.clients import Client, ConnectRefused
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.servers import LiveServer, running
from tests.support.tcpproxy import FreezableProxy
from tests.support.tokens import token

PINGS = {"ping_interval": 0.5, "ping_timeout": 1}


async def test_cut_connection_releases_rooms_registry_and_user_limit() -> None:
    project = f"project:{uuid.uuid4()}"
    async with running(LiveServer(max_connections_per_user=1, **PINGS)) as server:
        proxy = await FreezableProxy(server.port).start()
        cut = Client()
        try:
            await cut.connect(f"http://127.0.0.1:{proxy.port}", token("roamer", scopes=["projects:read"]),
                              transports=["websocket"])  # fmt: skip
            await cut.subscribe(project)
            rooms = server.sio.manager.rooms["/ws"]
            assert server.registry.count_of_user("roamer") == 1 and len(rooms[project]) == 1
            with pytest.raises(ConnectRefused):  # the user's one connection is in use
                await Client().connect(server.url, token("roamer"))

            assert proxy.freeze() == 1  # the network goes silent; nobody closes anything
            await eventually(lambda: server.registry.count_of_user("roamer") == 0, timeout=10)
            assert project not in rooms and "user:roamer" not in rooms
            assert len(server.app.state.tokens.timers) == 0
            await eventually(lambda: not server.sio.eio.sockets, timeout=10)

            again = await Client().connect(server.url, token("roamer"))  # the limit was released
            await again.wait_for("connection.established")
            await asyncio.sleep(1.5)  # several ping cycles: the live one is not mistaken for dead
            assert again.sio.connected
            await again.close()
        finally:
            await cut.close()
            await proxy.stop()
    record("vanished client", "a connection cut without a close was dropped by ping timeout; "
           "its rooms, registry entry, expiry timer and per-user slot were released")  # fmt: skip
