"""One client that joins a room and then stops reading, for the slow-reader scenario (issue 12).

Python rather than one of the load generator's clients: its socket gets a
small receive buffer before connecting (Node cannot set one), so the kernel
holds a few KB for it instead of autotuning to tens of MB, and the server
feels a reader that has stopped within seconds. It answers Engine.IO pings
blindly ("3" every half second) so the heartbeat alone never ends it, and
tells when its TCP connection is gone (TCP_INFO's state) without reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from typing import Any

import websockets

NAMESPACE = "/ws"
RECEIVE_BUFFER = 4096
TCP_ESTABLISHED = 1


class SlowReader:
    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url = ws_url
        self.token = token
        self.ws: Any = None
        self.sock: Any = None
        self._pongs: asyncio.Task[None] | None = None

    async def open(self, room: str) -> SlowReader:
        host, port = self.ws_url.split("//", 1)[1].split("/", 1)[0].split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # before connect: the window
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self.ws = await websockets.connect(self.ws_url, sock=sock, max_size=None, ping_interval=None)
        self.sock = self.ws.transport.get_extra_info("socket")  # the transport's own handle on it
        await self._until(lambda f: f.startswith("0{"))
        await self.ws.send(f"40{NAMESPACE}," + json.dumps({"token": self.token}))
        await self._until(lambda f: f.startswith(f"40{NAMESPACE},"))
        await self.ws.send(f"42{NAMESPACE},1" + json.dumps(["subscribe", {"room": room}]))
        ack = await self._until(lambda f: f.startswith(f"43{NAMESPACE},1"))
        if '"success"' not in ack:
            raise RuntimeError(f"slow reader could not subscribe: {ack[:200]}")
        return self

    async def _until(self, wanted: Any) -> str:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 10)
            if frame == "2":
                await self.ws.send("3")
            elif isinstance(frame, str) and wanted(frame):
                return frame

    def stop_reading(self) -> None:
        self.ws.transport.pause_reading()
        self._pongs = asyncio.ensure_future(self._blind_pongs())

    async def _blind_pongs(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await self.ws.send("3")
                await asyncio.sleep(0.5)

    def connected(self) -> bool:
        """Whether its TCP connection is still established (the server has not closed or reset it)."""
        if self.sock is None or self.sock.fileno() == -1:  # a failed pong already closed it here
            return False
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return bool(struct.unpack("B", info[:1])[0] == TCP_ESTABLISHED)

    async def closed_after(self, started: float, until: asyncio.Event) -> float | None:
        """Seconds from `started` until the server closed the connection (None if not before `until`)."""
        while not until.is_set():
            if not self.connected():
                return time.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), 0.05)
        return None if self.connected() else time.monotonic() - started

    async def close(self) -> None:
        if self._pongs is not None:
            self._pongs.cancel()
        with contextlib.suppress(Exception):
            self.ws.transport.abort()
