"""The python-engineio / python-socketio internals FastSocket relies on are still there.

websocket/internals/fastsocket.py replaces python-engineio's socket loops through two
hooks and reads a few attributes of its classes. An upgrade that moves any of
them must fail here, loudly and by name, not later as lost packets or missed
pings: re-check the list in fastsocket.py's docstring against the new release,
then update these expectations.
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata

import engineio
import socketio
from engineio import async_socket, base_server, base_socket
from engineio.async_drivers import asgi
from socketio import async_admin

from websocket.internals.engine import stock_socket_class_intact
from websocket.internals.packet_queue import PacketQueue

WRITTEN_FOR = {"python-engineio": "4.15.", "python-socketio": "5.18."}


def source(obj: object) -> str:
    return re.sub(r"\s+", " ", inspect.getsource(obj))  # type: ignore[arg-type]


def test_the_pinned_releases_are_the_ones_fastsocket_was_written_for() -> None:
    for package, prefix in WRITTEN_FOR.items():
        version = metadata.version(package)
        assert version.startswith(prefix), (
            f"{package} {version}: websocket/internals/fastsocket.py was written against {prefix}x; "
            "re-check the "
            "internals its docstring lists (and this file's tests), then update WRITTEN_FOR"
        )


def test_connect_creates_the_socket_then_triggers_connect_before_pings_and_transport() -> None:
    body = source(engineio.AsyncServer._handle_connect)
    steps = [
        "s = async_socket.AsyncSocket(self, sid)",
        "self.sockets[sid] = s",
        "await self._trigger_event('connect', sid, environ, run_async=False)",
        "s.schedule_ping()",
        "await s.handle_get_request(environ)",
    ]
    positions = [body.find(step) for step in steps]
    found = dict(zip(steps, positions, strict=True))
    assert -1 not in positions, f"AsyncServer._handle_connect changed: {found}"
    assert positions == sorted(positions), "AsyncServer._handle_connect no longer runs these steps in order"


def test_sockets_take_their_queue_from_the_server() -> None:
    assert "self.queue = self.server.create_queue()" in source(base_socket.BaseSocket.__init__)


def test_stock_sockets_use_only_queue_methods_packet_queue_answers() -> None:
    # engine.py gives stock sockets (WS_FAST_PATH=false, Admin UI) a PacketQueue too.
    used = set(re.findall(r"self\.queue\.(\w+)", inspect.getsource(async_socket)))
    assert used <= {"get", "get_nowait", "task_done", "put", "put_nowait", "join"}, used
    assert all(callable(getattr(PacketQueue, name)) for name in used)


def test_the_websocket_transport_is_run_through_the_socket_handler() -> None:
    upgrade = source(async_socket.AsyncSocket._upgrade_websocket)
    assert "self.server._async['websocket']( self._websocket_handler, self.server)" in upgrade
    assert "return await ws(environ)" in upgrade
    call = source(asgi.WebSocket.__call__)
    assert "self.asgi_receive = environ['asgi.receive']" in call
    assert "self.asgi_send = environ['asgi.send']" in call
    assert "await self.handler(self)" in call


def test_the_socket_methods_and_attributes_fastsocket_uses_exist() -> None:
    for name in ("receive", "send", "close", "poll", "schedule_ping", "check_ping_timeout",
                 "handle_get_request", "_websocket_handler", "_send_ping"):  # fmt: skip
        assert inspect.iscoroutinefunction(getattr(async_socket.AsyncSocket, name)) or callable(
            getattr(async_socket.AsyncSocket, name)
        ), name
    init = source(base_socket.BaseSocket.__init__)
    for attribute in ("last_ping", "connected", "upgrading", "upgraded", "closing", "closed"):
        assert f"self.{attribute} =" in init, attribute
    # Pings: a pong reschedules through schedule_ping(), which does nothing until a ping was sent.
    assert "self.schedule_ping()" in source(async_socket.AsyncSocket.receive)
    assert "if self.last_ping:" in source(async_socket.AsyncSocket.schedule_ping)
    # The monitor FastSocket replaces is the one `monitor_clients` switches off.
    assert "self.start_service_task = monitor_clients" in source(base_server.BaseServer.__init__)


def test_python_socketio_builds_its_engineio_server_from_the_hook() -> None:
    assert "self.eio = self._engineio_server_class()(**engineio_options)" in source(
        socketio.base_server.BaseServer.__init__
    )


def test_the_admin_ui_patches_are_still_the_ones_detected() -> None:
    # python-socketio's Admin UI swaps these AsyncSocket methods; FastSocket then stands aside.
    instrument = source(async_admin.InstrumentedAsyncServer.instrument)
    assert "AsyncSocket._websocket_handler = functools.partialmethod(" in instrument
    assert "AsyncSocket._send_ping = functools.partialmethod(" in instrument
    assert stock_socket_class_intact()
