"""Speaking Engine.IO v4 by hand, for the conformance tests: raw HTTP long-polling and raw WebSockets.

Written from the protocol's description (the socket.io-protocol and
engine.io-protocol repositories' READMEs), not from any client library, so
the server is held to the protocol rather than to what one client tolerates.
A payload of several packets is separated by the record separator (\\x1e).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from tests.support.servers import ServerProcess

SEPARATOR = "\x1e"
PING_INTERVAL = 0.3  # the settings the socket.io-protocol test-suite runs its server with
PING_TIMEOUT = 0.2
PATHS = ("/socket.io/", "/ws/socket.io/")  # both Engine.IO paths the server answers


def decode_open(packet: str) -> dict[str, Any]:
    assert packet.startswith("0"), packet
    value: dict[str, Any] = json.loads(packet[1:])
    return value


def packets(body: str) -> list[str]:
    return body.split(SEPARATOR)


@dataclass
class Endpoint:
    """One Engine.IO path of one server."""

    server: ServerProcess
    path: str

    @property
    def url(self) -> str:
        return self.server.url + self.path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=5)

    async def open_polling(self, http: httpx.AsyncClient) -> str:
        """A long-polling session's sid."""
        response = await http.get("", params={"EIO": "4", "transport": "polling"})
        assert response.status_code == 200, response.text
        return str(decode_open(response.text)["sid"])

    def polling(self, sid: str) -> dict[str, str]:
        return {"EIO": "4", "transport": "polling", "sid": sid}

    @contextlib.asynccontextmanager
    async def websocket(self, query: str = "EIO=4&transport=websocket") -> AsyncIterator[Any]:
        async with websockets.connect(f"{self.ws_url}?{query}", max_size=None, open_timeout=5) as ws:
            yield ws


MODES = ("fast", "stock")  # WS_FAST_PATH on, and python-engineio's own socket loops


@contextlib.asynccontextmanager
async def running(mode: str, **settings: Any) -> AsyncIterator[ServerProcess]:
    """A server process with the fast path on (`fast`) or off (`stock`)."""
    process = ServerProcess(ws_fast_path=str(mode == "fast"), **settings)
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def next_frame(ws: Any, timeout: float = 3) -> str | bytes:
    frame: str | bytes = await asyncio.wait_for(ws.recv(), timeout)
    return frame


async def answers(ws: Any) -> None:
    """The session reads and answers: a Socket.IO CONNECT to a namespace that does not exist gets
    its CONNECT_ERROR (the server's pings are answered meanwhile; Engine.IO v4 clients never ping)."""
    await ws.send("40/nope,")
    while not str(frame := await next_frame(ws)).startswith("44/nope,"):
        assert frame == "2", frame  # nothing else may come on a bare Engine.IO session
        await ws.send("3")


async def closed_by_server(ws: Any, within: float = 3) -> int | None:
    """Read until the server closes the WebSocket; its close code (None: the TCP connection just ended)."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), within)
    return ws.close_code  # type: ignore[no-any-return]
