"""websocket_connect / websocket_disconnect: at DEBUG unless LOG_CONNECTIONS; refusals audited either way."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from tests.support.clients import Client
from tests.support.servers import LiveServer, running
from tests.support.tokens import token


@pytest.mark.parametrize(("setting", "level"), [("false", "debug"), ("true", "info")])
async def test_connection_lines_follow_log_connections(setting: str, level: str) -> None:
    async with running(LiveServer(log_connections=setting)) as server:
        with capture_logs() as logs:
            client = await Client().connect(server.url, token("lines"), transports=["websocket"])
            await client.close()
            for _ in range(200):
                if any(e["event"] == "websocket_disconnect" for e in logs):
                    break
                await asyncio.sleep(0.02)
            refused = Client()
            with pytest.raises(Exception):  # noqa: B017 - any refusal; its audit line is the point
                await refused.connect(server.url, "not-a-token", transports=["websocket"])
            await refused.close()
    lines = {e["event"]: e["log_level"] for e in logs if e["event"].startswith("websocket_")}
    assert lines["websocket_connect"] == lines["websocket_disconnect"] == level
    assert lines["websocket_refused"] == "warning"
