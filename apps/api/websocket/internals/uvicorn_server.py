"""uvicorn's Server, with a hook that runs first on shutdown and its connections within reach.

uvicorn documents `Server(config).serve()` and `run()`, not its shutdown
sequence. `DrainingServer` overrides `Server.shutdown()` (stop listening,
ask every connection to finish, wait up to `timeout_graceful_shutdown`,
cancel what is left, run the lifespan shutdown) to run `before_shutdown()`
first, and offers what a drain needs of uvicorn's state in small methods:
the listening sockets (`Server.servers`), the open connections
(`Server.server_state.connections`, uvicorn's protocol objects: `shutdown()`,
`transport`), and the graceful timeout that `shutdown()` reads when it runs.
`serving.GracefulServer` holds the logic. Each name is pinned in
tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

import socket

import uvicorn


def _is_websocket(connection: object) -> bool:
    return type(connection).__module__.startswith("uvicorn.protocols.websockets")


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.before_shutdown()
        await super().shutdown(sockets)

    async def before_shutdown(self) -> None:
        """Runs on SIGTERM before uvicorn's own shutdown, while it still listens and serves."""

    def stop_listening(self) -> None:
        """No new connections from here on; open ones go on."""
        for server in self.servers:
            server.close()

    def finish_http_connections(self) -> None:
        """Keep-alive HTTP connections finish their current request and take no other."""
        for connection in list(self.server_state.connections):
            if not _is_websocket(connection):
                connection.shutdown()

    def open_connections(self) -> int:
        """Connections (HTTP and WebSocket) uvicorn still serves."""
        return len(self.server_state.connections)

    def abort_connections(self) -> None:
        """Reset every open connection: unsent data is dropped, its handler sees a disconnect."""
        for connection in list(self.server_state.connections):
            connection.transport.abort()

    def set_graceful_timeout(self, seconds: float) -> None:
        """How long uvicorn's own shutdown, about to run, waits for connections and tasks."""
        self.config.timeout_graceful_shutdown = seconds  # type: ignore[assignment]
