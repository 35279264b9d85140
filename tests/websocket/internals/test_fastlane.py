"""EngineIOFastLane sends Engine.IO WebSockets to the mounted app and everything else the usual way."""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount, Router

from websocket.internals.fastlane import EngineIOFastLane

PREFIXES = ("/ws/socket.io/", "/socket.io/")


class Recorder:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])


async def call(lane: EngineIOFastLane, kind: str, path: str) -> None:
    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: dict[str, Any]) -> None:
        return None

    await lane({"type": kind, "path": path}, receive, send)


async def test_engineio_websockets_go_straight_to_their_mount() -> None:
    mounted_ws, mounted_root, usual = Recorder(), Recorder(), Recorder()
    router = Router(routes=[Mount("/ws", app=mounted_ws), Mount("/socket.io", app=mounted_root)])
    lane = EngineIOFastLane(usual, router=router, prefixes=PREFIXES)
    await call(lane, "websocket", "/ws/socket.io/")
    await call(lane, "websocket", "/socket.io/")
    await call(lane, "http", "/ws/socket.io/")  # long-polling: the usual way, middlewares included
    await call(lane, "websocket", "/ws/other")  # not Engine.IO
    await call(lane, "http", "/health")
    assert mounted_ws.paths == ["/ws/socket.io/"]
    assert mounted_root.paths == ["/socket.io/"]
    assert usual.paths == ["/ws/socket.io/", "/ws/other", "/health"]
