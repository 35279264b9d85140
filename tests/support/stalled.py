"""Peers that stop reading: a WebSocket one and a long-polling one, both speaking Engine.IO by hand.

Each joins the /ws namespace and its rooms like any client, then stops
taking what the server sends, while answering pings blindly (an Engine.IO
PONG, "3", every `pong_every` seconds whether or not a ping came) so the
server's heartbeat alone never ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import httpx
import websockets

from websocket.protocol.paths import ENGINEIO_PATH, NAMESPACE

RECEIVE_BUFFER = 4096  # no receive-window autotuning to tens of MB: the server feels it at once


def subscribe_packet(ack_id: int, room: str, **extra: Any) -> str:
    return f"42{NAMESPACE},{ack_id}" + json.dumps(["subscribe", {"room": room, **extra}])


class StalledWebSocket:
    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.ws_url = url.replace("http://", "ws://") + f"/{ENGINEIO_PATH}/?EIO=4&transport=websocket"
        self.token = token
        self.ws: Any = None
        self.local_port = 0
        self._pongs: asyncio.Task[None] | None = None

    async def open(self) -> StalledWebSocket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # before connect: window
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, self.address)
        self.local_port = sock.getsockname()[1]
        # No WebSocket-level keepalive: its pongs could not be read once reading stops.
        self.ws = await websockets.connect(self.ws_url, sock=sock, max_size=None, ping_interval=None)
        assert (await self.ws.recv()).startswith("0{")
        await self.ws.send(f"40{NAMESPACE}," + json.dumps({"token": self.token}))
        reply = await self._next(lambda frame: frame.startswith(f"40{NAMESPACE},") or frame.startswith("44"))
        assert reply.startswith(f"40{NAMESPACE},"), reply
        return self

    async def _next(self, wanted: Any) -> str:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 5)
            if frame == "2":
                await self.ws.send("3")
            elif wanted(frame):
                return frame  # type: ignore[no-any-return]

    async def call(self, ack_id: int, packet: str) -> Any:
        """Send a command packet and read until its ack (while still reading)."""
        await self.ws.send(packet)
        return await self.ack(ack_id)

    async def ack(self, ack_id: int) -> Any:
        """Read until the ack of command `ack_id`."""
        prefix = f"43{NAMESPACE},{ack_id}"
        frame = await self._next(lambda f: f.startswith(prefix))
        return json.loads(frame[len(prefix) :])[0]

    def stop_reading(self, pong_every: float = 0.3) -> None:
        self.ws.transport.pause_reading()
        self._pongs = asyncio.ensure_future(self._blind_pongs(pong_every))

    async def _blind_pongs(self, every: float) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.ws.send("3")
                await asyncio.sleep(every)

    async def close(self) -> None:
        if self._pongs is not None:
            self._pongs.cancel()
        with contextlib.suppress(Exception):
            self.ws.transport.abort()


class StalledPoller:
    """Long-polling: polls while joining, then only POSTs (pongs, commands) and never GETs again."""

    def __init__(self, url: str, token: str) -> None:
        self.base = f"{url}/{ENGINEIO_PATH}/?EIO=4&transport=polling"
        self.token = token
        self.http = httpx.AsyncClient(timeout=10)
        self.sid = ""
        self._pongs: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{self.base}&sid={self.sid}"

    async def open(self) -> StalledPoller:
        handshake = (await self.http.get(self.base)).text
        self.sid = json.loads(handshake[1:])["sid"]
        await self.post(f"40{NAMESPACE}," + json.dumps({"token": self.token}))
        assert (await self.get()).startswith(f"40{NAMESPACE},")
        return self

    async def post(self, body: str) -> None:
        response = await self.http.post(self.url, content=body)
        assert response.text == "ok", response.text

    async def get(self) -> str:
        return (await self.http.get(self.url)).text

    async def call(self, ack_id: int, packet: str) -> Any:
        await self.post(packet)
        prefix = f"43{NAMESPACE},{ack_id}"
        while True:
            for frame in (await self.get()).split("\x1e"):
                if frame.startswith(prefix):
                    return json.loads(frame[len(prefix) :])[0]

    def stop_polling(self, pong_every: float = 0.3) -> None:
        self._pongs = asyncio.ensure_future(self._blind_pongs(pong_every))

    async def _blind_pongs(self, every: float) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.http.post(self.url, content="3")
                await asyncio.sleep(every)

    async def close(self) -> None:
        if self._pongs is not None:
            self._pongs.cancel()
        await self.http.aclose()
