"""A shorter path through the ASGI stack for Engine.IO WebSocket connections.

A WebSocket connection keeps its whole ASGI call stack alive for as long as
it is open: FastAPI's exception, exit-stack and body-limit middlewares, the
router and the mount each hold a coroutine frame and objects of their own
(about 4 KB per connection), and every message sent goes through Starlette's
`send` wrapper. None of them does anything for Engine.IO, which answers its
own errors. This middleware, added next to the REST CORS middleware, hands
WebSocket scopes under an Engine.IO mount straight to the mounted app (the
very object `app.mount` registered, wrappers included); everything else,
long-polling included, takes the usual way. Middlewares added after it
(outside it) still see every connection.
"""

from __future__ import annotations

from starlette.routing import Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class EngineIOFastLane:
    def __init__(self, app: ASGIApp, /, router: Router, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.router = router
        self.prefixes = prefixes
        self._mounts: list[tuple[str, ASGIApp]] | None = None

    def _mounted(self) -> list[tuple[str, ASGIApp]]:
        # Read on first use: the mounts are registered after the middlewares.
        if self._mounts is None:
            self._mounts = [
                (route.path + "/", route.app) for route in self.router.routes if isinstance(route, Mount)
            ]
        return self._mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path: str = scope["path"]
            if path.startswith(self.prefixes):
                for prefix, app in self._mounted():
                    if path.startswith(prefix):
                        await app(scope, receive, send)
                        return
        await self.app(scope, receive, send)
