"""python-engineio's server, with `FastSocket` sockets (see fastsocket.py).

python-socketio builds its Engine.IO server from
`AsyncServer._engineio_server_class()`; `EventServer` returns this class.
Two hooks do the rest:

* `create_queue()` (which `BaseSocket.__init__` calls) returns a
  `PacketQueue`, a light stand-in for asyncio.Queue with the same methods;
* `_trigger_event("connect", sid, ...)`, which `_handle_connect` calls after
  creating the socket and before scheduling its first ping or running its
  transport, turns that socket into a `FastSocket`.

`fast_sockets=False` leaves python-engineio exactly as shipped (used to
measure what the fast path buys). So does python-socketio's Admin UI
instrumentation, which patches `AsyncSocket` methods that `FastSocket`
replaces: with it active, sockets stay stock so the Admin UI keeps reporting.
"""

from __future__ import annotations

import inspect
from typing import Any

import engineio
from engineio import async_socket

from logging_setup import get_logger
from websocket.fastsocket import FastSocket
from websocket.packet_queue import PacketQueue

log = get_logger("websocket.engine")

# AsyncSocket methods FastSocket replaces that python-socketio's Admin UI patches.
_ADMIN_PATCHED = ("_websocket_handler", "_send_ping")


def stock_socket_class_intact() -> bool:
    """False once something (the Admin UI) has patched AsyncSocket methods FastSocket replaces."""
    for name in _ADMIN_PATCHED:
        method = inspect.getattr_static(async_socket.AsyncSocket, name)
        if not inspect.isfunction(method) or method.__module__ != async_socket.__name__:
            return False
    return True


class _NoBody:
    """The handshake request's body: empty (it is a GET)."""

    async def read(self, length: int | None = None) -> bytes:
        return b""


NO_BODY = _NoBody()


class FastEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    sockets: dict[str, Any]
    service_task_handle: Any
    start_service_task: bool

    def __init__(self, *args: Any, fast_sockets: bool = True, **kwargs: Any) -> None:
        if fast_sockets:
            # FastSocket times out missing pongs itself; the stock monitor would
            # also visit every socket through a wait_for Task of its own.
            kwargs["monitor_clients"] = False
        super().__init__(*args, **kwargs)
        self.fast_sockets = fast_sockets
        self._warned = False

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        if self.fast_sockets and not args and not kwargs:
            return PacketQueue()
        return super().create_queue(*args, **kwargs)

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect" and self.fast_sockets:
            socket: Any = self.sockets.get(args[0])
            if type(socket) is async_socket.AsyncSocket and isinstance(socket.queue, PacketQueue):
                if stock_socket_class_intact():
                    FastSocket.adopt(socket)
                else:
                    self._stock_from_now_on()
            result = await super()._trigger_event(event, *args, **kwargs)
            environ = args[1] if len(args) > 1 else None
            if isinstance(environ, dict) and "wsgi.input" in environ:
                # python-socketio keeps the handshake's environ for the whole session;
                # its body reader (never read for the handshake GET) is an instance of
                # a class the ASGI driver creates per request: 2.5 KB per connection.
                environ["wsgi.input"] = NO_BODY
            return result
        return await super()._trigger_event(event, *args, **kwargs)

    def _stock_from_now_on(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "fast_sockets_off",
                reason="AsyncSocket is instrumented (Socket.IO Admin UI)",
                effect="python-engineio's own socket loops from now on",
            )
        # Stock sockets need the monitor that times out missing pongs.
        if self.service_task_handle is None:
            self.service_task_handle = self.start_background_task(self._service_task)
