"""python-engineio's server, with `FastSocket` sockets (see fastsocket.py).

python-socketio builds its Engine.IO server from
`AsyncServer._engineio_server_class()`; `EventServer` returns this class.
Two hooks do the rest:

* `create_queue()` (which `BaseSocket.__init__` calls) returns a
  `PacketQueue`, a light stand-in for asyncio.Queue with the same methods;
* `_trigger_event("connect", sid, ...)`, which `_handle_connect` calls after
  creating the socket and before scheduling its first ping or running its
  transport, turns that socket into a `FastSocket`.

`fast_sockets=False` leaves python-engineio's sockets as shipped (used to
measure what the fast path buys). So does python-socketio's Admin UI
instrumentation, which patches `AsyncSocket` methods that `FastSocket`
replaces: with it active, sockets stay stock so the Admin UI keeps reporting.

Every socket, stock or fast, gets a `PacketQueue` bounded by
`max_queued_bytes` (a stock `AsyncSocket` only calls `put`, `get`,
`get_nowait`, `task_done`, `put_nowait` and `join` on its queue, which
PacketQueue answers as asyncio.Queue does): a queue over it calls
`on_slow_consumer(sid)` (see slow_consumers.py). Each socket also keeps the
scope of its WebSocket (`websocket_scope`), through which its TCP connection
can be reset (tcp_reset.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qs

import engineio
from engineio import async_socket
from engineio import packet as eio_packet

from logging_setup import get_logger
from websocket.internals.environ import asgi_scope
from websocket.internals.fastsocket import FastSocket, TurnGate
from websocket.internals.packet_queue import PacketQueue

log = get_logger("websocket.internals.engine")

# AsyncSocket methods FastSocket replaces that python-socketio's Admin UI patches.
_ADMIN_PATCHED = ("_websocket_handler", "_send_ping")
# python-engineio logs the first occurrence of each of these at ERROR, though each is a
# client's mistake (a bad origin, version, transport, session id, upgrade...). The
# gateway (websocket/gateway/http_guard.py) refuses them before python-engineio sees
# them and writes the audit line; marking the keys as already seen makes python-engineio
# log any it still meets (a race with a session closing) at INFO, below our level.
CLIENT_ERROR_KEYS = frozenset(
    {"bad-origin", "bad-transport", "bad-version", "bad-jsonp-index", "bad-upgrade", "bad-sid",
     "not-connected", "unexpected-http"}
)  # fmt: skip


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


def websocket_scope(socket: Any) -> dict[str, Any] | None:
    """The ASGI scope of the WebSocket a socket writes to (None while it is long-polling)."""
    return getattr(socket, "websocket_scope", None)


class FastEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    sockets: dict[str, Any]
    service_task_handle: Any
    start_service_task: bool

    def __init__(
        self,
        *args: Any,
        fast_sockets: bool = True,
        max_queued_bytes: int | None = None,
        disconnects_per_turn: int = 0,
        **kwargs: Any,
    ) -> None:
        if fast_sockets:
            # FastSocket times out missing pongs itself; the stock monitor would
            # also visit every socket through a wait_for Task of its own.
            kwargs["monitor_clients"] = False
        super().__init__(*args, **kwargs)
        self.fast_sockets = fast_sockets
        self.max_queued_bytes = max_queued_bytes
        # FastSocket's clean-ups after a WebSocket ends: at most this many per loop turn.
        self.end_gate = TurnGate(disconnects_per_turn)
        # Called (synchronously, from inside a put) when a socket's queue passes max_queued_bytes.
        self.on_slow_consumer: Callable[[str], None] = self._close_slow_consumer
        self._warned = False
        self.log_message_keys.update(CLIENT_ERROR_KEYS)

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            return PacketQueue(self.max_queued_bytes)
        return super().create_queue(*args, **kwargs)

    async def handle_request(self, scope: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(scope, dict) and scope.get("type") == "websocket":
            # An upgrade from long-polling names its session; a WebSocket-first one is seen at connect.
            sid = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid", [""])[0]
            socket = self.sockets.get(sid) if sid else None
            if socket is not None:
                socket.websocket_scope = scope
        return await super().handle_request(scope, *args, **kwargs)

    def _overflowed(self, sid: str) -> None:
        self.on_slow_consumer(sid)

    def _close_slow_consumer(self, sid: str) -> None:
        """Without a Socket.IO layer's policy: the queue is closed, so is the session (soon)."""
        socket = self.sockets.get(sid)
        if socket is not None:
            socket.queue.close()
            self.start_background_task(socket.close, wait=False, abort=True, reason="slow consumer")

    def _advertise_exact_ping_interval(self, socket: Any) -> None:
        """Fix the OPEN packet waiting in a new session's queue: `pingInterval` in whole milliseconds.

        python-engineio 4.15 writes `int(interval + grace) * 1000`, truncating to
        whole seconds first: a 0.3 s interval was announced as 0 ms, and clients
        give up on a server they expect to ping every 0 ms. The pings themselves
        follow the float interval; only the announcement was wrong.
        """
        advertised = round((self.ping_interval + self.ping_interval_grace_period) * 1000)
        for pkt in socket.queue.waiting():
            if pkt.packet_type == eio_packet.OPEN and isinstance(pkt.data, dict):
                pkt.data["pingInterval"] = advertised

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            socket: Any = self.sockets.get(args[0])
            if socket is not None and isinstance(socket.queue, PacketQueue):
                self._advertise_exact_ping_interval(socket)
                socket.queue.on_overflow = partial(self._overflowed, args[0])
                scope = asgi_scope(args[1] if len(args) > 1 else None)
                socket.websocket_scope = scope if scope and scope.get("type") == "websocket" else None
        if event == "connect" and self.fast_sockets:
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
