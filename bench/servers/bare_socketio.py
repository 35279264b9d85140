"""Reference: bare python-socketio on uvicorn, the stock stack without our code.

Same pinned versions, same mount (`/ws`, Engine.IO at `/ws/socket.io/`), same
namespace; no authentication, no models, stock manager and JSON. `subscribe`
joins the room and acknowledges; broadcasts are plain `sio.emit(..., to=room)`.
uvicorn gets the options our main.py uses (per-message deflate off). With
`--redis-url` the stock `AsyncRedisManager` carries events between instances.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from bench.servers.trigger import LagProbe, Trigger, paced, reference_event

NAMESPACE = "/ws"


def build(redis_url: str, channel: str) -> Starlette:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins="*",
        ping_interval=25,
        ping_timeout=60,
    )

    @sio.on("subscribe", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    async def subscribe(sid: str, data: Any) -> dict[str, Any]:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str):
            return {"status": "error", "code": "INVALID_PAYLOAD", "message": "room must be a string"}
        await sio.enter_room(sid, room, namespace=NAMESPACE)
        return {"status": "success", "room": room}

    @sio.on("connect", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def broadcast(request: Request) -> JSONResponse:
        try:
            trigger = Trigger.parse(request.query_params)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        padding = "x" * trigger.pad

        async def emit(i: int) -> None:
            data = reference_event(trigger.room, i, padding)
            await sio.emit("workflow.progress", data, to=trigger.room, namespace=NAMESPACE)

        elapsed = await paced(trigger.n, trigger.rate, emit)
        return JSONResponse({"sent": trigger.n, "failed": 0, "elapsed_ms": elapsed})

    probe = LagProbe()

    async def lag_start(request: Request) -> JSONResponse:
        probe.start()
        return JSONResponse({"started": True})

    async def lag_stop(request: Request) -> JSONResponse:
        return JSONResponse(probe.stop())

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/bench/broadcast", broadcast, methods=["POST"]),
            Route("/bench/lag/start", lag_start, methods=["POST"]),
            Route("/bench/lag/stop", lag_stop, methods=["POST"]),
            Mount("/ws", socketio.ASGIApp(sio, socketio_path="ws/socket.io")),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--channel", default="socketio")
    args = parser.parse_args()
    uvicorn.run(
        build(args.redis_url, args.channel),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,
        ws_max_size=1_000_000 + 1024,
    )


if __name__ == "__main__":
    main()
