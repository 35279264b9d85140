"""The Socket.IO Admin UI namespace: refused unless configured, then only with its credentials.

python-socketio's instrumentation patches Engine.IO for the whole process,
so instrumented servers run as child processes, away from the shared one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from tests.support.clients import Client
from tests.support.servers import LiveServer, ServerProcess, running
from websocket.protocol.paths import ENGINEIO_PATH

PASSWORD = "correct-horse-battery-staple"


class AdminClient:
    """A python-socketio client of the /admin namespace, as the Admin UI connects."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.error: Any = None
        self.config: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sio.on("connect_error", self._on_error, namespace="/admin")
        self.sio.on("config", self._on_config, namespace="/admin")

    async def _on_error(self, data: Any) -> None:
        self.error = data

    async def _on_config(self, data: Any) -> None:
        if not self.config.done():
            self.config.set_result(data)

    async def connect(self, url: str, auth: Any) -> bool:
        try:
            await self.sio.connect(
                url, namespaces=["/admin"], socketio_path=ENGINEIO_PATH, auth=auth, wait_timeout=5
            )
        except socketio.exceptions.ConnectionError:
            return False
        return True

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest.fixture
async def admin_server() -> AsyncIterator[ServerProcess]:
    server = ServerProcess(admin_ui_username="admin", admin_ui_password=PASSWORD)
    async with running(server):
        yield server


async def test_admin_namespace_is_refused_by_default(server: LiveServer) -> None:
    admin = AdminClient()
    assert not await admin.connect(server.url, {"username": "admin", "password": PASSWORD})
    assert admin.error["data"]["code"] == "INVALID_NAMESPACE"
    await admin.close()


async def test_admin_ui_connects_with_its_credentials_only(admin_server: ServerProcess) -> None:
    admin = AdminClient()
    assert await admin.connect(admin_server.url, {"username": "admin", "password": PASSWORD})
    config = await asyncio.wait_for(admin.config, 5)
    # Read-only by default: the UI may watch, not emit, join, leave or disconnect.
    assert "AGGREGATED_EVENTS" in config["supportedFeatures"]
    assert "EMIT" not in config["supportedFeatures"]
    await admin.close()

    for wrong in (
        {"username": "admin", "password": PASSWORD + "x"},
        {"username": "root", "password": PASSWORD},
        None,
    ):
        intruder = AdminClient()
        assert not await intruder.connect(admin_server.url, wrong), wrong
        assert intruder.error["message"] == "authentication failed"
        await intruder.close()

    # The event namespace works as before, and other namespaces are still refused.
    client = await Client().connect(admin_server.url)
    assert (await client.call("debug:rooms", {}))["status"] == "success"
    await client.close()
    stray = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stray.connect(
            admin_server.url, namespaces=["/other"], socketio_path=ENGINEIO_PATH, wait_timeout=5
        )
    await stray.disconnect()
    logs = admin_server.log()
    assert '"admin_ui_enabled"' in logs and PASSWORD not in logs
