"""Namespace connects tried by hand over one Engine.IO session, from a chosen local address.

What a brute-force client does: open one session, then send CONNECT after
CONNECT with different credentials, reading each answer. python-socketio's
client makes one attempt per session, so it cannot show what the server does
with the second and third.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import websockets

from websocket.protocol.paths import ENGINEIO_PATH


@dataclass
class Reply:
    ok: bool
    data: Any  # the CONNECT payload, or the CONNECT_ERROR's {"message", "data"}

    @property
    def code(self) -> str | None:
        inner = self.data.get("data") if isinstance(self.data, dict) else None
        return inner.get("code") if isinstance(inner, dict) else None


class SessionClosed(Exception):
    """The server ended the Engine.IO session (a CLOSE packet, or the WebSocket closed)."""


class RawSession:
    def __init__(self, url: str, source: str = "127.0.0.1") -> None:
        self.url = url.replace("http://", "ws://") + f"/{ENGINEIO_PATH}/?EIO=4&transport=websocket"
        self.source = source
        self.ws: Any = None

    async def __aenter__(self) -> RawSession:
        self.ws = await websockets.connect(self.url, local_addr=(self.source, 0), max_size=None)
        opened = await self.ws.recv()
        assert opened.startswith("0{"), opened
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def next_frame(self, timeout: float = 5) -> str:
        """The next frame that is not a ping (answered); SessionClosed when the server ends it."""
        while True:
            try:
                frame = await asyncio.wait_for(self.ws.recv(), timeout)
            except websockets.exceptions.ConnectionClosed:
                raise SessionClosed from None
            if frame == "2":  # ping: answer like a real client
                await self.ws.send("3")
            elif frame == "1":
                raise SessionClosed
            else:
                return str(frame)

    async def connect(self, namespace: str, auth: Any, timeout: float = 5) -> Reply:
        prefix = "" if namespace == "/" else f"{namespace},"
        try:
            await self.ws.send(f"40{prefix}" + json.dumps(auth))
        except websockets.exceptions.ConnectionClosed:
            raise SessionClosed from None
        while True:
            frame = await self.next_frame(timeout)
            if frame.startswith(f"40{prefix}"):
                return Reply(True, json.loads(frame[len(prefix) + 2 :]))
            if frame.startswith(f"44{prefix}"):
                return Reply(False, json.loads(frame[len(prefix) + 2 :]))

    async def until_closed(self, timeout: float = 5) -> None:
        """Read until the server ends the session; TimeoutError if it does not."""
        try:
            while True:
                await self.next_frame(timeout)
        except SessionClosed:
            return
