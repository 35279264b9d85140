"""What HTTP sees of a drain: work in progress counted, new work refused.

`InFlight` counts REST requests (and, in websocket/shutdown/drain.py, broadcasts)
in progress; `RequestTracker` is the ASGI middleware that counts requests and,
once the drain has begun, answers 503 to new REST requests and to new
Engine.IO sessions, while requests of existing sessions go through.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from websocket.protocol import jsonlib


class InFlight:
    """Counts work in progress; `idle()` waits until there is none.

    `closed` says that no new work should start (the instance is draining).
    """

    def __init__(self) -> None:
        self.count = 0
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __enter__(self) -> None:
        self.count += 1
        self._idle.clear()

    def __exit__(self, *exc: object) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()


SHUTTING_DOWN = jsonlib.dumpb(
    {"detail": {"code": "SERVER_SHUTTING_DOWN", "message": "This instance is shutting down; retry elsewhere"}}
)


class RequestTracker:
    """ASGI middleware counting HTTP requests in progress, except Engine.IO's own.

    Once the drain has begun, new REST requests and new Engine.IO sessions
    (a handshake: no `sid`) are answered 503, new WebSockets 403; requests of
    existing Engine.IO sessions go through, so that long-polling clients can
    still collect their goodbye.
    """

    def __init__(self, app: ASGIApp, skip_prefixes: tuple[str, ...], in_flight: InFlight) -> None:
        self.app = app
        self.skip_prefixes = skip_prefixes
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        engineio = scope.get("path", "").startswith(self.skip_prefixes)
        if self.in_flight.closed and (not engineio or _new_session(scope)):
            await _refuse(scope, send)
            return
        if engineio or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.in_flight:
            await self.app(scope, receive, send)


def _new_session(scope: Scope) -> bool:
    """An Engine.IO request that would open a session rather than serve one."""
    if scope["type"] == "websocket":
        return True  # an upgrade of a polling session too: it stays on polling and is closed there
    return "sid" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))


_REFUSAL_HEADERS = [
    (b"content-type", b"application/json"), (b"connection", b"close"), (b"retry-after", b"1"),
]  # fmt: skip


async def _refuse(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting: uvicorn answers 403. (A 503 through the denial-response
        # extension would make uvicorn 0.54's websockets-sansio protocol log an error:
        # it does not count a denial as a completed handshake.)
        await send({"type": "websocket.close", "code": 1013})
        return
    await send({"type": "http.response.start", "status": 503, "headers": _REFUSAL_HEADERS})
    await send({"type": "http.response.body", "body": SHUTTING_DOWN})
