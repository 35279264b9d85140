"""Engine.IO v4 / Socket.IO v5 spoken by hand over a plain WebSocket."""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

import websockets

from websocket.protocol.paths import ENGINEIO_PATH, NAMESPACE


class EngineIOClosed(Exception):
    """The server sent an Engine.IO CLOSE packet: it has ended the session."""


class RawSocket:
    """Connects to the /ws namespace, then lets a test send arbitrary frames."""

    def __init__(self, url: str, token: str | None, namespace: str = NAMESPACE, connect: bool = True) -> None:
        self.ws_url = url.replace("http://", "ws://") + f"/{ENGINEIO_PATH}/?EIO=4&transport=websocket"
        self.token = token
        self.namespace = namespace
        self.do_connect = connect
        self.ws: Any = None
        self.received: list[str | bytes] = []

    async def __aenter__(self) -> RawSocket:
        self.ws = await websockets.connect(self.ws_url, max_size=None)
        handshake = await self.ws.recv()
        assert handshake.startswith("0{"), handshake
        if self.do_connect:
            await self.ws.send(f"40{self.namespace}," + json.dumps({"token": self.token}))
            reply = await self.recv()
            assert reply.startswith(f"40{self.namespace},"), reply
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.ws.close()

    async def send_packet(self, socketio_packet: str) -> None:
        """Send a Socket.IO packet inside an Engine.IO MESSAGE frame."""
        await self.ws.send("4" + socketio_packet)

    async def send_frame(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self, timeout: float = 5) -> str:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if frame == "2":  # Engine.IO ping: answer like a real client
                await self.ws.send("3")
                continue
            if frame == "1":
                raise EngineIOClosed
            self.received.append(frame)
            return frame  # type: ignore[no-any-return]

    async def next_ack(self, ack_id: int, timeout: float = 5) -> Any:
        prefix = f"43{self.namespace},{ack_id}"
        while True:
            frame = await self.recv(timeout)
            if isinstance(frame, str) and frame.startswith(prefix):
                return json.loads(frame[len(prefix) :])
