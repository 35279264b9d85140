"""A TCP relay that can fail like a network: go silent, or cut out for a while.

`freeze()` stops relaying on every connection open at that moment while
keeping the sockets open, which is what a dead NAT entry or a stuck proxy
looks like to both ends. Connections made afterwards are relayed normally.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.net import free_port


class FreezableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.Event] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._down_until = 0.0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FreezableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def outage(self, seconds: float) -> None:
        """A network cut: drop every connection, refuse new ones for `seconds`."""
        self._down_until = asyncio.get_running_loop().time() + seconds
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._live = set()

    def freeze(self) -> int:
        """Silence every current connection; return how many were frozen."""
        frozen = len(self._live)
        for flowing in self._live:
            flowing.clear()
        self._live = set()
        return frozen

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self._down_until:
            client_w.transport.abort()
            return
        upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((client_w, upstream_w))
        flowing = asyncio.Event()
        flowing.set()
        self._live.add(flowing)
        for reader, writer in ((client_r, upstream_w), (upstream_r, client_w)):
            task = asyncio.create_task(self._pipe(reader, writer, flowing))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
    ) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if not flowing.is_set():
                    continue  # swallow: the peer never hears of it
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
