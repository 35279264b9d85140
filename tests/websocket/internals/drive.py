"""Real library objects driven in process, for the contract test (test_library_internals.py).

`Engine` speaks Engine.IO v4 to an ASGI app by calling it, as uvicorn would,
without a socket: long-polling requests are one ASGI call each, a WebSocket is
an ASGI call fed from a queue. `Uvicorn` runs a real `uvicorn.Server` (or a
subclass) on a free port for as long as a test needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tests.support.net import free_port

CLIENT = ("10.0.0.7", 4321)
SEPARATOR = "\x1e"  # between the packets of an Engine.IO v4 polling payload


class Engine:
    def __init__(self, app: Any, path: str = "/socket.io/") -> None:
        self.app = app
        self.path = path

    def _scope(self, kind: str, query: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {
            "type": kind, "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
            "path": self.path, "raw_path": self.path.encode(), "root_path": "",
            "query_string": query.encode(), "headers": [(b"host", b"test"), *headers],
            "client": CLIENT, "server": ("test", 80),
        }  # fmt: skip

    async def http(self, method: str, query: str, body: bytes = b"") -> tuple[int, bytes]:
        scope = self._scope("http", query, [(b"content-length", str(len(body)).encode())])
        scope["method"] = method
        events = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if events:
                return events.pop(0)
            await asyncio.Event().wait()  # the client stays (Engine.IO never asks again)
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def handshake(self) -> str:
        """A new long-polling session; its id."""
        status, body = await self.http("GET", "EIO=4&transport=polling")
        assert status == 200 and body.startswith(b"0"), (status, body)
        sid: str = json.loads(body[1:])["sid"]
        return sid

    async def post(self, sid: str, *packets: str) -> int:
        status, _ = await self.http(
            "POST", f"EIO=4&transport=polling&sid={sid}", SEPARATOR.join(packets).encode()
        )
        return status

    async def poll(self, sid: str) -> list[str]:
        """What is queued for the session (call only when something is: an empty poll waits)."""
        status, body = await asyncio.wait_for(self.http("GET", f"EIO=4&transport=polling&sid={sid}"), 5)
        assert status == 200, (status, body)
        return body.decode().split(SEPARATOR)

    @contextlib.asynccontextmanager
    async def websocket(self) -> AsyncIterator[WebSocketPeer]:
        """A session opened on a WebSocket (no polling first); closed by the peer on exit."""
        peer = WebSocketPeer()
        headers = [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")]
        scope = self._scope("websocket", "EIO=4&transport=websocket", headers)
        peer.inbox.put_nowait({"type": "websocket.connect"})
        task = asyncio.ensure_future(self.app(scope, peer.inbox.get, peer.outbox.put))
        try:
            assert (await peer.next())["type"] == "websocket.accept"
            opened = await peer.text()
            peer.sid = json.loads(opened[1:])["sid"]
            yield peer
        finally:
            peer.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
            await asyncio.wait_for(task, 5)


class WebSocketPeer:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # what the server receives
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # what the server sends
        self.sid = ""

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), 5)

    async def text(self) -> str:
        message = await self.next()
        assert message["type"] == "websocket.send", message
        text: str = message["text"]
        return text

    def send(self, text: str) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})


class Uvicorn:
    """A real uvicorn.Server (or subclass) serving `app` on a free port."""

    def __init__(self, app: Any, server_class: type[uvicorn.Server] = uvicorn.Server, **options: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off", **options
        )
        self.server = server_class(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Uvicorn:
        self.task = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None and not self.task.done():
            self.server.force_exit = True
            await self.stop()

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)
