"""uvicorn, told to drain the application before it closes connections.

On SIGTERM uvicorn stops listening, then closes every open WebSocket with
code 1012 and only afterwards runs the lifespan shutdown, by which time no
client can be told anything; whatever is still running when its timeout
ends is cancelled, with an error line and, for WebSocket handlers, a
traceback. `GracefulServer` instead:

1. awaits the application's drain (refuse new sessions, let work in flight
   finish, tell clients, close sessions cleanly) while still listening: a
   long-polling client may open a new connection for the poll that collects
   its goodbye (socket.io-client under Node opens one per poll);
2. stops listening and lets keep-alive HTTP connections finish their request;
3. waits for connections to close within what is left of `SHUTDOWN_TIMEOUT`,
   then aborts those that did not (a peer that stopped reading), so that
   their handlers end on their own rather than being cancelled;
4. lets uvicorn finish.

The uvicorn internals this takes (its shutdown as a hook, its listening
sockets and connections) are reached through `DrainingServer`
(websocket/internals/uvicorn_server.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from config import Settings
from logging_setup import get_logger
from websocket.internals.header_timeout import with_header_timeout
from websocket.internals.uvicorn_server import DrainingServer
from websocket.internals.ws_protocol import LeanWebSocketProtocol

log = get_logger("serving")

DrainFn = Callable[[], Awaitable[None]]
CLOSE_POLL_S = 0.02  # how often to look whether the last connections have closed


def concurrency_limit(settings: Settings) -> int:
    """uvicorn's `limit_concurrency`: `LIMIT_CONCURRENCY`, or derived from `MAX_CONNECTIONS`.

    uvicorn counts open connections (every open WebSocket and every
    keep-alive HTTP connection) and running requests (a WebSocket's handler, a
    held long-poll), and once either reaches the limit answers every new HTTP
    request 503, health checks included (WebSocket upgrades are never refused
    by it). A Socket.IO client holds one slot over WebSocket and up to two while
    long-polling (the held GET and a POST); Engine.IO admits 5 % more sessions
    than MAX_CONNECTIONS while they join. So: two per connection, 10 % more for
    sessions joining, and 100 for REST, health checks and metrics.
    """
    if settings.limit_concurrency is not None:
        return settings.limit_concurrency
    return 2 * settings.max_connections + settings.max_connections // 10 + 100


def ws_protocol(settings: Settings) -> str | type[asyncio.Protocol]:
    """uvicorn's `ws` option: the lean protocol (websocket/internals/ws_protocol.py) or uvicorn's own."""
    if settings.ws_lean_protocol and settings.ws_implementation == "websockets-sansio":
        return LeanWebSocketProtocol
    return settings.ws_implementation


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How this service runs under uvicorn, for `main()` and the in-process test server."""
    return {
        "host": settings.host,
        "port": settings.port,
        # Request headers get HTTP_HEADER_TIMEOUT seconds (websocket/internals/header_timeout.py);
        # bodies are timed by front/body_timeout.py, installed in main.create_app.
        "http": with_header_timeout(settings.http_header_timeout),
        "limit_concurrency": concurrency_limit(settings),
        # Behind a proxy that reuses connections, keep this above the proxy's own
        # idle timeout (deploy/nginx/eventserver.conf: 4 s), or a request sent on a
        # connection this side has just closed fails.
        "timeout_keep_alive": settings.http_keepalive_timeout,
        "log_config": None,
        # The access log would print query strings, tokens included; keep it off.
        "access_log": False,
        # Forwarded headers are honoured only from TRUSTED_PROXIES, by the app
        # itself (see main.create_app); uvicorn's default trusts 127.0.0.1.
        "proxy_headers": False,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        # Larger WebSocket messages are refused by uvicorn (close code 1009).
        "ws_max_size": settings.max_http_buffer_size,
        "ws": ws_protocol(settings),
        # Engine.IO's own pings (PING_INTERVAL) already detect dead peers and keep
        # proxies from timing out; uvicorn's WebSocket pings would double that traffic.
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }


class GracefulServer(DrainingServer):
    def __init__(self, config: uvicorn.Config, drain: DrainFn | None, timeout: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.timeout = timeout

    async def before_shutdown(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        if self.drain is not None:
            try:
                await self.drain()
            except Exception:
                log.exception("drain_failed")
        self.stop_listening()
        self.finish_http_connections()
        await self._close_connections(deadline)
        self.set_graceful_timeout(max(0.5, deadline - loop.time()))

    async def _close_connections(self, deadline: float) -> None:
        """Wait for connections to close until `deadline` (loop time), then abort the rest."""
        loop = asyncio.get_running_loop()
        while self.open_connections() and loop.time() < deadline:  # noqa: ASYNC110 (uvicorn's set has no event; it polls too)
            await asyncio.sleep(CLOSE_POLL_S)
        if self.open_connections():
            log.info("connections_aborted", count=self.open_connections(), reason="shutdown timeout")
            self.abort_connections()  # each one's handler sees a disconnect and ends
