"""uvicorn, told to drain the application before it closes connections.

On SIGTERM uvicorn stops listening, then closes every open WebSocket with
code 1012 and only afterwards runs the lifespan shutdown, by which time no
client can be told anything. `GracefulServer` stops listening first, then
awaits the application's drain (tell clients, let work in flight finish,
close sessions cleanly), then lets uvicorn finish with whatever time is left
of `SHUTDOWN_TIMEOUT`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from config import Settings
from logging_setup import get_logger

log = get_logger("serving")

DrainFn = Callable[[], Awaitable[None]]


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How this service runs under uvicorn, for `main()` and the in-process test server."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        # The access log would print query strings, tokens included; keep it off.
        "access_log": False,
        # Forwarded headers are honoured only from TRUSTED_PROXIES, by the app
        # itself (see main.create_app); uvicorn's default trusts 127.0.0.1.
        "proxy_headers": False,
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        # Larger WebSocket messages are refused by uvicorn (close code 1009).
        "ws_max_size": settings.max_http_buffer_size,
        "ws": settings.ws_implementation,
        # Engine.IO's own pings (PING_INTERVAL) already detect dead peers and keep
        # proxies from timing out; uvicorn's WebSocket pings would double that traffic.
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
    }


def _is_websocket(connection: Any) -> bool:
    return type(connection).__module__.startswith("uvicorn.protocols.websockets")


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: DrainFn | None, timeout: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.timeout = timeout

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        for server in self.servers:
            server.close()  # no new connections from here on
        # Existing connections stay usable during the drain: a long-polling
        # client between two polls reuses its keep-alive connection to collect
        # its goodbye (closing idle HTTP connections first would cut it off).
        if self.drain is not None:
            try:
                await self.drain()
            except Exception:
                log.exception("drain_failed")
        # Then keep-alive HTTP connections finish their current request and take no other.
        for connection in list(self.server_state.connections):
            if not _is_websocket(connection):
                connection.shutdown()
        remaining = self.timeout - (time.monotonic() - started)
        self.config.timeout_graceful_shutdown = max(0.5, remaining)  # type: ignore[assignment]
        await super().shutdown(sockets)
