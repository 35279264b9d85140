"""The one list of other libraries' internals this server relies on, each checked for what it does.

Everything under apps/api that touches a name another library does not
document (an underscore name, or an attribute of its objects it never
promised) does so in apps/api/websocket/internals/; `TABLE` lists each such
name with the library, the module of the seam that uses it and the behaviour
relied on, and the test of the same key exercises that behaviour on real
objects of the installed library (in process: ASGI calls, real uvicorn
servers on free ports; no mocks of the libraries).

Taking any new release of these libraries, a patch release included, fails
`test_the_installed_libraries_are_the_verified_ones`: run this file against
the new release, read the changes of each name listed for that library,
fix what moved, then update `VERIFIED`. `test_no_library_internals_outside_the_seam`
keeps the list whole: a private name used anywhere else under apps/api fails it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import inspect
import json
import re
import time
import uuid
import weakref
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import engineio
import pytest
import socketio
import uvicorn
import websockets
from engineio import async_socket
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.payload import Payload
from fastapi import FastAPI
from socketio import exceptions as sio_exceptions
from socketio import packet as sio_packet
from starlette.middleware import Middleware
from starlette.routing import Mount
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from tests.support.net import eventually
from tests.websocket.internals.drive import CLIENT, Engine, Uvicorn
from websocket.broker.messages import validate
from websocket.broker.transport import RedisTransport
from websocket.internals import sessions
from websocket.internals.engine import NO_BODY, FastEngineServer, stock_socket_class_intact
from websocket.internals.environ import asgi_scope, client_address
from websocket.internals.fastlane import EngineIOFastLane
from websocket.internals.fastsocket import FastSocket
from websocket.internals.frame_lane import FrameLane
from websocket.internals.header_timeout import HeaderTimeoutProtocol, with_header_timeout
from websocket.internals.manager import FastManagerMixin
from websocket.internals.packet_queue import PacketQueue
from websocket.internals.packets import event_packet, valid_client_frame, valid_client_payload
from websocket.internals.pubsub_manager import PubSubManagerBase
from websocket.internals.socketio_server import SocketIOServerBase
from websocket.internals.tcp_reset import RAW_SEND, RawSendTap, reset
from websocket.internals.uvicorn_server import DrainingServer
from websocket.internals.ws_frames import direct_writer, frame_lane, text_frame
from websocket.internals.ws_protocol import FRAMES_LOGGER, LeanWebSocketProtocol
from websocket.internals.ws_writer import _resume
from websocket.protocol import jsonlib
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.payloads import WorkflowProgress

ROOT = Path(__file__).resolve().parents[3]
API = ROOT / "apps" / "api"
SEAM = API / "websocket" / "internals"

# The release each name below was read in and checked against. Exact: patch releases included.
VERIFIED = {
    "python-engineio": "4.15.1",
    "python-socketio": "5.18.1",
    "uvicorn": "0.54.0",
    "starlette": "1.10.0",
}

EIO, SIO, UVICORN, STARLETTE = "python-engineio", "python-socketio", "uvicorn", "starlette"


@dataclass(frozen=True)
class Internal:
    library: str
    name: str
    used_in: str  # modules of websocket/internals/ (serving.py reaches uvicorn through uvicorn_server)
    relied_on: str


TABLE: dict[str, Internal] = {
    # -- python-socketio's server: websocket/internals/socketio_server.py -------------------
    "engineio_server_class": Internal(SIO, "AsyncServer._engineio_server_class()", "socketio_server",
        "python-socketio builds its Engine.IO server (`sio.eio`) from the class it returns"),
    "handle_eio_connect": Internal(SIO, "AsyncServer._handle_eio_connect(eio_sid, environ)",
        "socketio_server",
        "called for each new Engine.IO session, already in `eio.sockets`, with its handshake environ; "
        "False refuses the session (the handshake is answered 401, the session dropped)"),
    "environ": Internal(SIO, "AsyncServer.environ", "socketio_server",
        "the handshake environ of each session by eio_sid, the very dict given to the connect, "
        "until the session ends"),
    "handle_eio_message": Internal(SIO, "AsyncServer._handle_eio_message(eio_sid, data)", "socketio_server",
        "gets the data of each Engine.IO MESSAGE (a str for text) and decodes and dispatches it"),
    "binary_packet": Internal(SIO, "AsyncServer._binary_packet", "socketio_server",
        "a BINARY_EVENT waits there by eio_sid for its attachments; popping it forgets the packet"),
    "handle_connect": Internal(SIO, "AsyncServer._handle_connect(eio_sid, namespace, data)",
        "socketio_server",
        "called for each CONNECT packet with its namespace (None for '/') and auth; when it returns, "
        "the connect handler has run, CONNECT is queued and the sid is connected"),
    "handle_event": Internal(SIO, "AsyncServer._handle_event(eio_sid, namespace, id, data)",
        "socketio_server",
        "called for each EVENT packet with the decoded data whatever its shape, before any check"),
    "handle_event_internal": Internal(SIO, "AsyncServer._handle_event_internal(server, sid, eio_sid, data, "
        "namespace, id)", "socketio_server",
        "runs the event handler with `server` the server itself; the ACK is queued before it returns"),
    "handle_eio_disconnect": Internal(SIO, "AsyncServer._handle_eio_disconnect(eio_sid, reason)",
        "socketio_server", "called when a session ends, with Engine.IO's reason (CLIENT_DISCONNECT for "
        "the client's CLOSE); when it returns the sid has left its namespaces and the environ is gone"),
    "send_packet": Internal(SIO, "AsyncServer._send_packet(eio_sid, pkt), AsyncServer.packet_class",
        "socketio_server, manager",
        "`packet_class(type, namespace=, id=, data=)` encodes a Socket.IO packet (a str for JSON); "
        "`_send_packet` queues it on the session"),
    "connection_refused_error_args": Internal(SIO, "exceptions.ConnectionRefusedError(...).error_args",
        "socketio_server", "{'message': str(first), 'data': second}: the payload of the CONNECT_ERROR"),
    "socketio_eio": Internal(SIO, "AsyncServer.eio, its ping_interval and ping_timeout", "socketio_server",
        "the Engine.IO server, built with the ping options given to python-socketio"),
    # -- python-engineio's sessions: websocket/internals/sessions.py, engine.py, fastsocket.py -------
    "sockets": Internal(EIO, "AsyncServer.sockets", "socketio_server, engine, manager, fastsocket",
        "eio_sid -> socket of every session; a session removed from it is unknown to later requests (400)"),
    "socket_state": Internal(EIO, "AsyncSocket.upgraded, AsyncSocket.closed", "sessions, manager, fastsocket",
        "`upgraded` False on long-polling, True on a WebSocket; `closed` True once closed"),
    "socket_close": Internal(EIO, "AsyncSocket.close(wait, abort, reason)", "sessions, fastsocket",
        "runs the disconnect handler with `reason` before returning, queues CLOSE unless `abort`, "
        "marks the socket closed; with `wait`, returns once the queue is drained"),
    "socket_queue": Internal(EIO, "AsyncSocket.queue, from AsyncServer.create_queue()",
        "engine, sessions, manager, fastsocket", "each socket takes its outgoing queue from the server's "
        "`create_queue()` (no arguments) and sends through it; None put on it answers a pending poll"),
    "queue_protocol": Internal(EIO, "what AsyncSocket calls on its queue", "packet_queue",
        "only put, put_nowait, get, get_nowait, task_done, join: a stock socket works on a PacketQueue"),
    "trigger_connect": Internal(EIO, "AsyncServer._trigger_event('connect', sid, environ, ...), "
        "the order of AsyncServer._handle_connect", "engine",
        "called once the socket is registered with OPEN queued, before `schedule_ping()` and the "
        "transport run: a socket adopted there runs FastSocket's loops from the start"),
    "service_task": Internal(EIO, "AsyncServer._service_task, service_task_handle (monitor_clients)",
        "engine",
        "monitor_clients=False starts no monitor; `_service_task` started later as the handle is "
        "the monitor `shutdown()` stops"),
    "websocket_handler": Internal(EIO, "AsyncSocket._websocket_handler(ws), ws.asgi_receive, ws.asgi_send",
        "fastsocket", "the WebSocket transport runs the socket's `_websocket_handler` with the ASGI "
        "driver's WebSocket, whose asgi_receive/asgi_send are the connection's own callables"),
    "socket_attributes": Internal(EIO, "AsyncSocket.receive(), schedule_ping(), last_ping, connected, "
        "upgrading, closing, sid, server", "fastsocket",
        "a PONG received calls schedule_ping(), which schedules only once a ping was sent (last_ping set)"),
    "trigger_disconnect": Internal(EIO, "AsyncServer._trigger_event('disconnect', sid, reason, "
        "run_async=False)", "fastsocket", "runs python-socketio's disconnect handling before returning"),
    "engineio_exceptions": Internal(EIO, "exceptions.QueueEmpty, UnknownPacketError, SocketIsClosedError",
        "fastsocket", "QueueEmpty from `poll()` fails the GET (400) and closes the session; receive() "
        "raises UnknownPacketError for a PING; a closed stock socket's send raises SocketIsClosedError"),
    "admin_patches": Internal(SIO, "AsyncSocket._websocket_handler, _send_ping (patched by the Admin UI)",
        "engine", "`instrument()` replaces both on AsyncSocket, `uninstrument()` puts them back"),
    "asgi_scope": Internal(EIO, "environ['asgi.scope']", "environ, engine",
        "the ASGI driver puts the request's scope (with `client`) in every environ"),
    "wsgi_input": Internal(EIO, "environ['wsgi.input']", "engine",
        "the handshake's body reader is never read once the session exists"),
    "packet_codec": Internal(EIO, "engineio.packet.Packet, its encode_cache", "packets, packet_queue, "
        "ws_writer, fastsocket", "Packet(type, data).encode(), which returns `encode_cache` when set; "
        "Packet(encoded_packet=) decodes `packet_type` and `data`, raising on what is not a packet"),
    "payload_codec": Internal(EIO, "engineio.payload.Payload", "packets",
        "Payload(encoded_payload=).packets: the packets of a polling body, raising on garbage"),
    # -- python-socketio's client managers: websocket/internals/manager.py ----------------------
    "pending_lists": Internal(SIO, "BaseManager.pending_connect, pending_disconnect", "manager",
        "namespace -> sids; python-socketio assigns a fresh list per namespace, then uses only "
        "append, remove, `in` and len"),
    "manager_rooms": Internal(SIO, "BaseManager.rooms", "manager",
        "rooms[namespace][room] maps sid -> eio_sid; the room None holds every sid of the namespace"),
    "manager_hooks": Internal(SIO, "basic_enter_room, basic_leave_room, basic_disconnect, get_rooms",
        "manager", "enter_room, leave_room, close_room and disconnect go through them"),
    "manager_callbacks": Internal(SIO, "BaseManager.callbacks", "manager",
        "ack callbacks by sid, added by an emit with a callback, dropped by basic_disconnect"),
    # -- python-socketio's Redis manager: websocket/internals/pubsub_manager.py -----------------
    "publish_hook": Internal(SIO, "AsyncPubSubManager._publish(message)", "pubsub_manager",
        "an emit is handled here (`_handle_emit`) first, then its message published through it"),
    "listen_hook": Internal(SIO, "AsyncPubSubManager._listen()", "pubsub_manager",
        "the listener iterates it; dict messages are taken as they are; an emit whose host_id is "
        "this manager's is skipped"),
    "handle_emit_hook": Internal(SIO, "AsyncPubSubManager._handle_emit(message)", "pubsub_manager",
        "delivers an emit message to this instance's members of its room"),
    "host_id": Internal(SIO, "AsyncPubSubManager.host_id", "pubsub_manager",
        "the id in every message this manager publishes"),
    "initialize_thread": Internal(SIO, "AsyncPubSubManager.initialize(), .thread, "
        "AsyncServer.manager_initialized", "pubsub_manager", "initialize() starts the listener task "
        "(kept as `thread`); the server calls it at the first connect unless manager_initialized"),
    "pubsub_format": Internal(SIO, "the pub/sub `emit` message (a format, not a name)",
        "broker/transport.py writes it, broker/messages.py checks it",
        "AsyncPubSubManager.emit publishes method, event, data, binary, namespace, room, skip_sid, "
        "callback, host_id"),
    # -- uvicorn: websocket/internals/uvicorn_server.py, header_timeout.py, tcp_reset.py ---------
    "server_shutdown": Internal(UVICORN, "Server.shutdown(sockets)", "uvicorn_server",
        "serve() calls it on exit while still listening, before closing connections"),
    "server_servers": Internal(UVICORN, "Server.servers", "uvicorn_server",
        "the listening asyncio servers; closing them refuses new connections"),
    "server_connections": Internal(UVICORN, "Server.server_state.connections", "uvicorn_server",
        "the protocol object of every open connection, HTTP and WebSocket, until it closes"),
    "protocol_shutdown": Internal(UVICORN, "HTTP protocol shutdown()", "uvicorn_server",
        "closes an idle keep-alive connection"),
    "protocol_transport": Internal(UVICORN, "protocol.transport", "uvicorn_server, header_timeout",
        "the connection's asyncio transport: abort() resets it"),
    "websocket_module": Internal(UVICORN, "uvicorn.protocols.websockets.* (module of WebSocket protocols)",
        "uvicorn_server", "WebSocket connections' protocol classes live there, HTTP ones do not"),
    "graceful_timeout": Internal(UVICORN, "Config.timeout_graceful_shutdown, read by Server.shutdown()",
        "uvicorn_server", "shutdown() reads it when it runs: a value set just before bounds the wait"),
    "httptools_protocol": Internal(UVICORN, "protocols.http.httptools_impl.HttpToolsProtocol",
        "header_timeout",
        "what http='auto' picks; a subclass given as `http` is used for every connection"),
    "parser_callbacks": Internal(UVICORN, "HttpToolsProtocol.on_message_begin, on_headers_complete, "
        "on_response_complete", "header_timeout", "httptools calls the first two on the instance "
        "from data_received; the request cycle calls the third when a response is sent"),
    "cycle_state": Internal(UVICORN, "HttpToolsProtocol.cycle, cycle.response_complete, cycle.more_body, "
        "client", "header_timeout", "cycle is None before the first request, then the latest one; "
        "more_body stays True for a body the app did not read; client is the peer (host, port)"),
    "upgrade_handoff": Internal(UVICORN, "HttpToolsProtocol.handle_websocket_upgrade(), .parser",
        "header_timeout", "called from data_received for an upgrade request; afterwards the transport "
        "is the WebSocket protocol's and the HTTP protocol's parser is never used again"),
    "ws_sansio_protocol": Internal(UVICORN, "WebSocketsSansIOProtocol: request, response, "
        "start_keepalive(), disconnected, on_task_complete(), connection_lost(), scope, transport, "
        "conn (websockets' ServerProtocol: parser, logger)", "ws_protocol",
        "request and response are read only to answer the handshake, and start_keepalive() is called "
        "once, right after the 101 is written; once the connection is lost and "
        "the app returned nothing reads scope, transport or conn.parser; conn.logger gets websockets' "
        "per-connection lines; the stock class leaves the connection in reference cycles"),
    "send_self_transport": Internal(UVICORN, "send.__self__.transport (the ASGI send of a WebSocket)",
        "tcp_reset", "the app's `send` is a method of the protocol holding the transport, for "
        "websockets-sansio, wsproto and websockets"),
    "send_backpressure": Internal(UVICORN, "WebSocket protocol send(), pause_writing(), resume_writing()",
        "ws_writer", "send completes without suspending unless the transport is paused, and then "
        "waits until it resumes"),
    "direct_frames": Internal(UVICORN, "WebSocketsSansIOProtocol (send.__self__): transport, conn (its "
        "state, extensions), writable, handshake_complete, close_sent, disconnected, initial_response; "
        "pause_writing, resume_writing, send, connection_lost as the hooks of FrameLane's bits",
        "ws_frames, ws_protocol", "a frame written to `transport` reaches the client as `send` would have "
        "written it; `writable` is clear while paused; close_sent is set once a close is sent; the transport "
        "calls pause/resume_writing, a close goes through `send`, a lost connection calls connection_lost"),
    # -- Starlette: websocket/internals/fastlane.py, tcp_reset.py --------------------------------
    "mount_attributes": Internal(STARLETTE, "Router.routes, Mount.path, Mount.app", "fastlane",
        "app.mount(path, app) adds a Mount whose path is `path` and whose app is that very object"),
    "mount_scope": Internal(STARLETTE, "how a Mount passes a scope down (behaviour)", "fastlane, tcp_reset",
        "the mounted app gets the same scope dict, `path` whole (prefix included), keys set above kept"),
}  # fmt: skip


# -- the list itself ----------------------------------------------------------------------------
def test_the_installed_libraries_are_the_verified_ones() -> None:
    changed = {lib: metadata.version(lib) for lib in VERIFIED if metadata.version(lib) != VERIFIED[lib]}
    to_check = {lib: sorted(key for key, entry in TABLE.items() if entry.library == lib) for lib in changed}
    assert not changed, (
        f"{changed} installed, verified against {VERIFIED}: read the new release's changes to each "
        f"name listed for it in TABLE ({to_check}), run this file, fix what moved in "
        "apps/api/websocket/internals/, then update VERIFIED"
    )


def test_every_entry_has_its_test_and_every_test_its_entry() -> None:
    own = {
        "the_installed_libraries_are_the_verified_ones",
        "every_entry_has_its_test_and_every_test_its_entry",
        "no_library_internals_outside_the_seam",
    }
    tests = {name.removeprefix("test_") for name in globals() if name.startswith("test_")} - own
    assert tests == set(TABLE), {"untested": set(TABLE) - tests, "not listed": tests - set(TABLE)}
    assert {entry.library for entry in TABLE.values()} == set(VERIFIED)


# Names other libraries do not document, read or written as attributes (`.name`) or keys.
UNDOCUMENTED = re.compile(
    r"\.eio\b|\.sockets\b|\.environ\b(?!\s+import)|\.packet_class\b|\.upgraded\b|pending_connect"
    r"|pending_disconnect|manager_initialized|\.host_id\b|\.server_state\b|\.servers\b|\.cycle\b"
    r"|asgi\.scope|wsgi\.input|\.scripts\b|__self__|engineio\.packet|engineio\.payload|socketio\.packet"
    r"|engineio import packet|socketio import packet|engineio\.async_socket|engineio import async_socket"
)
# Underscore names of the standard library that its documentation gives as the way to do something.
DOCUMENTED_UNDERSCORE = {"_replace", "_srcfile"}  # namedtuple._replace; the logging HOWTO's "Optimization"


def _outside_the_seam() -> list[Path]:
    return [p for p in API.rglob("*.py") if SEAM not in p.parents and "static" not in p.parts]


def test_no_library_internals_outside_the_seam() -> None:
    found = []
    for path in _outside_the_seam():
        text = path.read_text()
        where = path.relative_to(API)
        found += [
            f"{where}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
            for m in UNDOCUMENTED.finditer(text)
        ]
        for node in ast.walk(ast.parse(text)):
            # `x._name` where x is not this object: someone else's private attribute.
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in DOCUMENTED_UNDERSCORE
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{where}:{node.lineno}: .{node.attr}")
            # A method whose name is an underscore name of a base class from another library.
            if isinstance(node, ast.ClassDef) and node.bases:
                found += [
                    f"{where}:{f.lineno}: def {f.name}"
                    for f in node.body
                    if _overrides_private(path, node, f)
                ]
    assert not found, (
        "other libraries' internals outside websocket/internals/ (move them there):\n" + "\n".join(found)
    )


def _overrides_private(path: Path, cls: ast.ClassDef, item: ast.stmt) -> bool:
    if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    name = item.name
    if not name.startswith("_") or name.startswith("__"):
        return False
    module = __import__(
        ".".join(path.relative_to(API).with_suffix("").parts).removesuffix(".__init__"), fromlist=["*"]
    )
    own = getattr(module, cls.name, None)
    if not inspect.isclass(own):
        return False
    foreign = [b for b in own.__mro__[1:] if b.__module__.split(".")[0] not in _OWN_PACKAGES]
    return any(name in vars(base) for base in foreign)


_OWN_PACKAGES = {p.stem for p in API.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


# -- python-socketio's server ---------------------------------------------------------------------
async def settled(check: Any) -> None:
    await eventually(check, timeout=5, interval=0.005)


class Recorder(SocketIOServerBase):
    """The seam's base as EventServer uses it: each hook records its call, then does python-socketio's."""

    def __init__(self, **kwargs: Any) -> None:
        options = {"async_mode": "asgi", "namespaces": "*", "ping_interval": 10, "ping_timeout": 5}
        super().__init__(**(options | kwargs))
        self.calls: dict[str, list[Any]] = {}
        self.refuse_sessions = False
        self.seen: dict[str, Any] = {}

    def record(self, hook: str, *args: Any) -> None:
        self.calls.setdefault(hook, []).append(args)

    async def on_engineio_connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        self.record("engineio_connect", eio_sid, environ, eio_sid in self.eio.sockets)
        return False if self.refuse_sessions else await super().on_engineio_connect(eio_sid, environ)

    async def on_engineio_message(self, eio_sid: str, data: Any) -> None:
        self.record("engineio_message", eio_sid, data)
        await super().on_engineio_message(eio_sid, data)

    async def on_engineio_disconnect(self, eio_sid: str, reason: Any) -> None:
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        await super().on_engineio_disconnect(eio_sid, reason)
        self.record(
            "engineio_disconnect",
            eio_sid,
            reason,
            self.environ_of(eio_sid),
            self.manager.is_connected(sid, "/"),
        )

    async def on_namespace_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super().on_namespace_connect(eio_sid, namespace, data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        queued = sessions.queue_of(self.eio.sockets[eio_sid])
        self.record(
            "namespace_connect",
            eio_sid,
            namespace,
            data,
            self.manager.is_connected(sid, "/"),
            queued and queued.qsize(),
        )

    async def on_event_packet(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        self.record("event_packet", eio_sid, namespace, id, data)
        if isinstance(data, list) and data and isinstance(data[0], str):
            await super().on_event_packet(eio_sid, namespace, id, data)

    async def _handle_event_internal(self, server: Any, *args: Any) -> None:
        self.seen["server"] = server
        await super()._handle_event_internal(server, *args)

    async def on_event_dispatch(
        self, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        await super().on_event_dispatch(sid, eio_sid, data, namespace, id)
        queue = sessions.queue_of(self.eio.sockets[eio_sid])
        self.record("event_dispatch", sid, eio_sid, data, namespace, id, queue and queue.qsize())


@contextlib.asynccontextmanager
async def socketio_engine(**options: Any) -> Any:
    """A Recorder served in process (ASGI calls, no sockets); every session closed on exit."""
    sio = Recorder(**options)
    sio.on("connect", lambda sid, environ, auth=None: True)

    @sio.on("echo")
    async def echo(sid: str, value: Any) -> Any:
        return value

    try:
        yield sio, Engine(socketio.ASGIApp(sio))
    finally:
        for socket in sio.engineio_sessions():
            await sessions.close(socket, "test over", wait=False, abort=True)
        await sio.eio.shutdown()


async def joined(sio: Recorder, engine: Engine) -> str:
    """A long-polling session connected to namespace '/' (its CONNECT collected)."""
    eio_sid = await engine.handshake()
    assert await engine.post(eio_sid, "40") == 200
    assert (await engine.poll(eio_sid))[0].startswith("40{")
    return eio_sid


def test_engineio_server_class() -> None:
    assert type(SocketIOServerBase(async_mode="asgi").eio) is FastEngineServer


async def test_handle_eio_connect() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        [(seen_sid, environ, registered)] = sio.calls["engineio_connect"]
        assert (seen_sid, registered, environ["REQUEST_METHOD"]) == (eio_sid, True, "GET")
        sio.refuse_sessions = True
        status, _ = await engine.http("GET", "EIO=4&transport=polling")
        assert status == 401
        assert len(sio.calls["engineio_connect"]) == 2 and sio.session_count() == 1


async def test_environ() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        [(_, environ, _)] = sio.calls["engineio_connect"]
        assert sio.environ_of(eio_sid) is environ
        assert await engine.post(eio_sid, "1") == 200  # CLOSE
        await settled(lambda: sio.environ_of(eio_sid) is None)


async def test_handle_eio_message() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        assert await engine.post(eio_sid, "40", '42["echo",1]') == 200
        await settled(lambda: len(sio.calls.get("engineio_message", [])) == 2)
        assert [data for _, data in sio.calls["engineio_message"]] == ["0", '2["echo",1]']
        assert "namespace_connect" in sio.calls  # decoded and dispatched


async def test_binary_packet() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        assert await engine.post(eio_sid, '451-["echo",{"_placeholder":true,"num":0}]') == 200
        await settled(lambda: sio.awaiting_attachments(eio_sid))
        sio.forget_attachments(eio_sid)
        assert not sio.awaiting_attachments(eio_sid)


async def test_handle_connect() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        assert await engine.post(eio_sid, '40{"token":"t"}') == 200
        await settled(lambda: "namespace_connect" in sio.calls)
        assert sio.calls["namespace_connect"] == [(eio_sid, None, {"token": "t"}, True, 1)]
        assert (await engine.poll(eio_sid))[0].startswith("40{")


async def test_handle_event() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        assert await engine.post(eio_sid, "421[1]", "42{}") == 200
        await settled(lambda: len(sio.calls.get("event_packet", [])) == 2)
        assert sio.calls["event_packet"] == [(eio_sid, None, 1, [1]), (eio_sid, None, None, {})]


async def test_handle_event_internal() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        assert await engine.post(eio_sid, '423["echo","hi"]') == 200
        await settled(lambda: "event_dispatch" in sio.calls)
        sid = sio.manager.sid_from_eio_sid(eio_sid, "/")
        assert sio.seen["server"] is sio
        assert sio.calls["event_dispatch"] == [(sid, eio_sid, ["echo", "hi"], "/", 3, 1)]  # the ACK queued
        assert await engine.poll(eio_sid) == ['433["hi"]']


async def test_handle_eio_disconnect() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        assert await engine.post(eio_sid, "1") == 200
        await settled(lambda: "engineio_disconnect" in sio.calls)
        assert sio.calls["engineio_disconnect"] == [(eio_sid, sio.reason.CLIENT_DISCONNECT, None, False)]


async def test_send_packet() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        await sio.send_ack(eio_sid, "/", 7, ["x"])
        await sio.refuse_connect(eio_sid, "/", "no", {"code": "X"})
        assert await engine.poll(eio_sid) == ['437["x"]', '44{"message":"no","data":{"code":"X"}}']
        manager = FastManagerMixinManager()
        manager.set_server(sio)
        [pkt] = manager.encode("ev", {"a": 1}, "/")
        assert (pkt.packet_type, pkt.encode()) == (eio_packet.MESSAGE, '42["ev",{"a":1}]')
        # packets.event_packet writes by formatting what packet_class encodes
        for namespace, event, argument in (("/", "ev", b'{"a":1}'), ("/ws", "a.b", rb'{"x":[1,"a \"b\""]}')):
            stock = sio.packet_class(
                sio_packet.EVENT, namespace=namespace, data=[event, jsonlib.loads(argument)]
            ).encode()
            formatted = event_packet(namespace, event, argument)
            assert formatted.data == stock
            assert (formatted.packet_type, formatted.encode()) == (eio_packet.MESSAGE, "4" + stock)
            plain = eio_packet.Packet(eio_packet.MESSAGE, stock)  # EventPacket sets what Packet.__init__ sets
            assert {k: getattr(formatted, k) for k in vars(plain) if k != "encode_cache"} == {
                k: v for k, v in vars(plain).items() if k != "encode_cache"
            }
            assert formatted.frame == {"type": "websocket.send", "text": "4" + stock}


def test_connection_refused_error_args() -> None:
    assert sio_exceptions.ConnectionRefusedError("no", {"c": 1}).error_args == {
        "message": "no",
        "data": {"c": 1},
    }


async def test_socketio_eio() -> None:
    async with socketio_engine(ping_interval=7, ping_timeout=3) as (sio, engine):
        assert (sio.ping_interval, sio.ping_timeout) == (7, 3)
        _, body = await engine.http("GET", "EIO=4&transport=polling")
        opened = json.loads(body[1:])
        assert (opened["pingInterval"], opened["pingTimeout"]) == (7000, 3000)


# -- python-engineio's sessions -------------------------------------------------------------------
async def test_sockets() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        assert sio.engineio_session(eio_sid) is sio.eio.sockets[eio_sid] and sio.session_count() == 1
        sio.forget_session(eio_sid)
        status, _ = await engine.http("GET", f"EIO=4&transport=polling&sid={eio_sid}")
        assert status == 400 and sio.session_count() == 0


async def test_socket_state() -> None:
    async with socketio_engine() as (sio, engine):
        polling = sio.engineio_session(await engine.handshake())
        assert not sessions.is_websocket(polling) and not sessions.is_closed(polling)
        async with engine.websocket() as peer:
            assert sessions.is_websocket(sio.engineio_session(peer.sid))
        await sessions.close(polling, "test", wait=False)
        assert sessions.is_closed(polling)


async def test_socket_close() -> None:
    reasons: list[Any] = []
    async with socketio_engine() as (sio, engine):
        sio.on("disconnect", lambda sid, reason: reasons.append(reason))
        one, other = [sio.engineio_session(await joined(sio, engine)) for _ in range(2)]
        await sessions.close(one, "first", wait=False)
        assert reasons == ["first"] and sessions.is_closed(one)
        assert [p.packet_type for p in sessions.queue_of(one).take_all()] == [eio_packet.CLOSE]
        await sessions.close(other, "second", wait=False, abort=True)
        assert reasons == ["first", "second"] and sessions.queue_of(other).empty()


async def test_socket_queue() -> None:
    for fast in (True, False):
        async with socketio_engine(fast_sockets=fast) as (sio, engine):
            eio_sid = await engine.handshake()
            socket = sio.engineio_session(eio_sid)
            assert type(socket.queue) is PacketQueue and sessions.queue_of(socket) is socket.queue
            waiting = asyncio.ensure_future(engine.http("GET", f"EIO=4&transport=polling&sid={eio_sid}"))
            await settled(lambda queue=socket.queue: bool(queue._waiters))  # the poll waits on the queue
            sessions.end_poll(socket)
            assert (await asyncio.wait_for(waiting, 2))[0] == 200


async def test_queue_protocol() -> None:
    # A stock socket (WS_FAST_PATH=false, or the Admin UI on) works on a PacketQueue: the whole exchange.
    async with socketio_engine(fast_sockets=False) as (sio, engine):
        eio_sid = await joined(sio, engine)
        assert type(sio.engineio_session(eio_sid)) is async_socket.AsyncSocket
        assert await engine.post(eio_sid, '421["echo","ok"]') == 200
        assert await engine.poll(eio_sid) == ['431["ok"]']
    used = set(re.findall(r"self\.queue\.(\w+)", inspect.getsource(async_socket)))
    assert used <= {"get", "get_nowait", "task_done", "put", "put_nowait", "join"}, used


class AdoptionProbe(FastEngineServer):
    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            socket = self.sockets.get(args[0])
            self.at_connect = (type(socket), socket.queue.qsize(), socket.connected)
        return await super()._trigger_event(event, *args, **kwargs)


async def test_trigger_connect() -> None:
    eio = AdoptionProbe(async_mode="asgi", ping_interval=10, ping_timeout=5)
    engine = Engine(engineio.ASGIApp(eio), path="/engine.io/")
    eio_sid = await engine.handshake()
    socket = eio.sockets[eio_sid]
    try:
        assert eio.at_connect == (async_socket.AsyncSocket, 1, False)  # registered, OPEN queued, not running
        assert type(socket) is FastSocket and socket._timer is not None  # FastSocket scheduled the first ping
    finally:
        await sessions.close(socket, "test over", wait=False, abort=True)


async def test_service_task() -> None:
    async with socketio_engine() as (sio, engine):
        await engine.handshake()
        assert sio.eio.service_task_handle is None
        sio.eio._stock_from_now_on()  # the Admin UI case: stock sockets need the monitor
        monitor = sio.eio.service_task_handle
        await asyncio.sleep(0.01)
        assert isinstance(monitor, asyncio.Task) and not monitor.done()
    assert monitor.done()  # shutdown() stopped it


async def test_websocket_handler() -> None:
    async with socketio_engine() as (sio, engine), engine.websocket() as peer:
        assert type(sio.engineio_session(peer.sid)) is FastSocket
        peer.send("40")  # through the connection's own receive ...
        assert (await peer.text()).startswith("40{")  # ... and back through its own send


async def test_socket_attributes() -> None:
    async with socketio_engine(fast_sockets=False) as (sio, engine):
        socket = sio.engineio_session(await engine.handshake())
        assert (socket.connected, socket.upgrading, socket.closing, socket.server) == (
            True,
            False,
            False,
            sio.eio,
        )
        assert socket.last_ping is None  # the handshake scheduled the first ping
        scheduled: list[float | None] = []
        socket.schedule_ping = lambda: scheduled.append(socket.last_ping)
        socket.last_ping = time.time()  # a ping was sent ...
        await socket.receive(eio_packet.Packet(eio_packet.PONG))  # ... and answered
        assert scheduled == [socket.last_ping]


async def test_trigger_disconnect() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)
        await sio.eio._trigger_event("disconnect", eio_sid, "why", run_async=False)
        assert [call[:2] for call in sio.calls["engineio_disconnect"]] == [(eio_sid, "why")]


async def test_engineio_exceptions() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await engine.handshake()
        socket = sio.engineio_session(eio_sid)
        with pytest.raises(eio_exceptions.UnknownPacketError):
            await async_socket.AsyncSocket.receive(socket, eio_packet.Packet(eio_packet.PING))
        waiting = asyncio.ensure_future(engine.http("GET", f"EIO=4&transport=polling&sid={eio_sid}"))
        await settled(lambda: socket.polled_at is None)  # the poll is open
        socket.queue.close()  # FastSocket.poll() raises QueueEmpty
        assert (await asyncio.wait_for(waiting, 2))[0] == 400 and sessions.is_closed(socket)
    async with socketio_engine(fast_sockets=False) as (sio, engine):
        stock = sio.engineio_session(await engine.handshake())
        await sessions.close(stock, "test", wait=False, abort=True)
        with pytest.raises(eio_exceptions.SocketIsClosedError):
            await stock.send(eio_packet.Packet(eio_packet.NOOP))


def test_admin_patches() -> None:
    assert stock_socket_class_intact()
    admin = socketio.AsyncServer(async_mode="asgi").instrument(auth=False, mode="production")
    try:
        assert not stock_socket_class_intact()
    finally:
        admin.uninstrument()
    assert stock_socket_class_intact()


async def test_asgi_scope() -> None:
    async with socketio_engine() as (sio, engine):
        environ = sio.environ_of(await engine.handshake())
        scope = asgi_scope(environ)
        assert scope is not None and scope["client"] == CLIENT and scope["path"] == engine.path
        assert client_address(environ) == CLIENT[0] and environ["REMOTE_ADDR"] == "127.0.0.1"


async def test_wsgi_input() -> None:
    async with socketio_engine() as (sio, engine):
        eio_sid = await joined(sio, engine)  # a POST after the swap reads its own body
        assert sio.environ_of(eio_sid)["wsgi.input"] is NO_BODY


def test_packet_codec() -> None:
    assert eio_packet.Packet(eio_packet.MESSAGE, "x").encode() == "4x"
    cached = eio_packet.Packet(eio_packet.MESSAGE, "x")
    cached.encode_cache = "4y"  # what packets.EventPacket sets: encode() returns it as it is
    assert cached.encode() == "4y"
    probe = eio_packet.Packet(encoded_packet="2probe")
    assert (probe.packet_type, probe.data) == (eio_packet.PING, "probe")
    with pytest.raises(ValueError):
        eio_packet.Packet(encoded_packet="xyz")
    assert [valid_client_frame(t) for t in ("4hi", "2probe", "5", "9", "xyz", "")] == [
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_payload_codec() -> None:
    assert [(p.packet_type, p.data) for p in Payload(encoded_payload="4a\x1e4b").packets] == [
        (4, "a"),
        (4, "b"),
    ]
    checks = [b"4a\x1e1", b"3", b"2", b"\xff", b"4a\x1exyz"]
    assert [valid_client_payload(body) for body in checks] == [True, True, False, False, False]


# -- python-socketio's client managers --------------------------------------------------------------
class FastManagerMixinManager(FastManagerMixin, socketio.AsyncManager):  # type: ignore[misc]
    """The mixin over python-socketio's own manager, as LocalManager uses it."""


def manager_with_server() -> FastManagerMixinManager:
    manager = FastManagerMixinManager()
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)  # set_server()
    return manager


async def test_pending_lists() -> None:
    manager = manager_with_server()
    sid = await manager.pre_connect("eio-1", "/")
    assert not manager.is_connected(sid, "/") and sid in manager.pending_connect["/"]
    assert isinstance(manager.pending_connect["/"], set)  # python-socketio's fresh list, made a set
    await manager.connect(sid, "/")
    assert manager.is_connected(sid, "/") and "/" not in manager.pending_connect
    manager.pre_disconnect(sid, "/")
    assert not manager.is_connected(sid, "/") and isinstance(manager.pending_disconnect["/"], set)
    manager.basic_disconnect(sid, "/")
    assert "/" not in manager.pending_disconnect


async def test_manager_rooms() -> None:
    manager = manager_with_server()
    sid = await manager.connect("eio-1", "/")  # not pre-connected: a complete connect
    await manager.enter_room(sid, "/", "r")
    assert dict(manager.rooms["/"]["r"]) == {sid: "eio-1"} and manager.rooms["/"][None][sid] == "eio-1"
    assert manager.room_size("/", "r") == 1 and list(manager.get_participants("/", "r")) == [(sid, "eio-1")]


async def test_manager_hooks() -> None:
    manager = manager_with_server()
    sid = await manager.connect("eio-1", "/")
    for room in ("a", "b", "c"):
        await manager.enter_room(sid, "/", room)
    assert sorted(manager.get_rooms(sid, "/")) == sorted([sid, "a", "b", "c"])
    await manager.leave_room(sid, "/", "a")
    await manager.close_room("b", "/")
    assert sorted(manager.get_rooms(sid, "/")) == sorted([sid, "c"])  # the reverse index kept in step
    await manager.disconnect(sid, "/")
    assert manager.get_rooms(sid, "/") == [] and "/" not in manager.rooms


async def test_manager_callbacks() -> None:
    manager = manager_with_server()
    sid = await manager.connect("eio-1", "/")
    await manager.emit(
        "ev", {}, "/", room=sid, callback=lambda *args: None
    )  # the session is unknown: not sent
    assert sid in manager.callbacks
    manager.basic_disconnect(sid, "/")
    assert sid not in manager.callbacks


# -- python-socketio's Redis manager ------------------------------------------------------------------
class PubSubProbe(PubSubManagerBase):
    def __init__(self, heard: list[dict[str, Any]] | None = None, deliver: bool = False) -> None:
        super().__init__("redis://127.0.0.1:1/0", "probe", json=jsonlib)  # never connected
        self.to_hear = heard or []
        self.deliver_emits = deliver
        self.log: list[tuple[str, dict[str, Any]]] = []

    async def publish_message(self, message: dict[str, Any]) -> None:
        self.log.append(("published", message))

    async def received_messages(self) -> Any:
        for message in self.to_hear:
            yield message
        await asyncio.Event().wait()

    async def on_emit_message(self, message: dict[str, Any]) -> None:
        self.log.append(("emitted here", message))
        if self.deliver_emits:
            await super().on_emit_message(message)


async def stop_listening(manager: PubSubProbe) -> None:
    listener = manager.listener()
    if listener is not None:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_publish_hook() -> None:
    manager = PubSubProbe()
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    await manager.emit("ev", {"a": 1}, namespace="/", room="r")
    assert [kind for kind, _ in manager.log] == ["emitted here", "published"]
    assert manager.log[0][1] is manager.log[1][1]


async def test_listen_hook() -> None:
    emit = {"method": "emit", "event": "ev", "data": [1], "namespace": "/", "room": "r"}
    manager = PubSubProbe(heard=[])
    manager.to_hear = [{**emit, "host_id": manager.instance_id}, {**emit, "host_id": "another"}]
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    manager.start_listening()
    try:
        await settled(lambda: len(manager.log) == 1)  # the own message came first: skipped already
        assert manager.log == [("emitted here", {**emit, "host_id": "another"})]
    finally:
        await stop_listening(manager)


async def test_handle_emit_hook() -> None:
    manager = PubSubProbe(deliver=True)
    async with socketio_engine(client_manager=manager) as (sio, engine):
        eio_sid = await joined(sio, engine)
        message = {"method": "emit", "event": "ev", "data": [{"a": 1}], "namespace": "/", "room": None,
                   "skip_sid": None, "callback": None, "binary": False, "host_id": "another"}  # fmt: skip
        await manager.on_emit_message(message)
        assert await engine.poll(eio_sid) == ['42["ev",{"a":1}]']
        await stop_listening(manager)


async def test_host_id() -> None:
    manager = PubSubProbe()
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    await manager.emit("ev", 1, namespace="/")
    assert re.fullmatch(r"[0-9a-f]{32}", manager.instance_id)
    assert manager.log[-1][1]["host_id"] == manager.instance_id == manager.host_id


async def test_initialize_thread() -> None:
    manager = PubSubProbe(deliver=True)
    async with socketio_engine(client_manager=manager) as (sio, engine):
        assert manager.listener() is None
        manager.start_listening()
        listener = manager.listener()
        assert isinstance(listener, asyncio.Task) and sio.manager_initialized
        await joined(sio, engine)  # the first connect: no second listener
        assert manager.listener() is listener and not listener.done()
        await stop_listening(manager)


async def test_pubsub_format() -> None:
    manager = PubSubProbe()
    socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    await manager.emit("ev", {"a": 1}, namespace="/ws", room="r")
    stock = manager.log[-1][1]
    event = OutboundEvent.create(WorkflowProgress(workflow_id=uuid.uuid4(), progress=1, current_step="s"))
    before, after = RedisTransport(None, None, origin="o")._frame(event, "r")  # type: ignore[arg-type]
    ours = json.loads(before + b'{"x":1}' + after)
    assert set(ours) == set(stock) and validate(stock) is None and validate(ours) is None
    assert {k: ours[k] for k in ("method", "binary", "namespace", "room", "skip_sid", "callback")} == {
        k: stock[k] for k in ("method", "binary", "namespace", "room", "skip_sid", "callback")
    }


# -- uvicorn ---------------------------------------------------------------------------------------
async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """HTTP: 200 "ok" at once, or never for /stuck. WebSocket: accepted, echoes until closed."""
    if scope["type"] == "http":
        if scope["path"] == "/stuck":
            await asyncio.Event().wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})


class ShutdownProbe(DrainingServer):
    """Runs `during_shutdown` (set by the test) in before_shutdown, recording what it returns."""

    during_shutdown: Any = None
    outcome: Any = None

    async def before_shutdown(self) -> None:
        self.outcome = await self.during_shutdown(self)


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/") -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"ok"), 5)


async def closed_by_peer(reader: asyncio.StreamReader) -> bool:
    with contextlib.suppress(ConnectionError):
        return await asyncio.wait_for(reader.read(), 5) == b""
    return True


def count(server: uvicorn.Server) -> int:
    return DrainingServer.open_connections(server)  # type: ignore[arg-type]


async def test_server_shutdown() -> None:
    async def during(server: DrainingServer) -> tuple[int, bool]:
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # still listening
        writer.close()
        return server.open_connections(), True

    async with Uvicorn(asgi_app, ShutdownProbe) as served:
        port = served.port
        served.server.during_shutdown = during  # type: ignore[attr-defined]
        reader, writer = await served.connect()
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        await served.stop()
        assert served.server.outcome[0] >= 1 and served.server.outcome[1]  # type: ignore[attr-defined]
        assert await closed_by_peer(reader)  # uvicorn's own shutdown ran after the hook


async def test_server_servers() -> None:
    async def during(server: DrainingServer) -> type[BaseException] | None:
        server.stop_listening()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            return type(exc)
        writer.close()
        return None

    async with Uvicorn(asgi_app, ShutdownProbe) as served:
        port = served.port
        served.server.during_shutdown = during  # type: ignore[attr-defined]
        await served.stop()
        assert served.server.outcome is ConnectionRefusedError  # type: ignore[attr-defined]


async def test_server_connections() -> None:
    async with Uvicorn(asgi_app) as served:
        reader, writer = await served.connect()
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        async with websockets.connect(f"ws://127.0.0.1:{served.port}/"):
            await settled(lambda: count(served.server) == 2)
        writer.close()
        await settled(lambda: count(served.server) == 0)


async def test_protocol_shutdown() -> None:
    async with Uvicorn(asgi_app, DrainingServer) as served:
        reader, writer = await served.connect()
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        served.server.finish_http_connections()  # type: ignore[attr-defined]
        assert await closed_by_peer(reader)


async def test_protocol_transport() -> None:
    async with Uvicorn(asgi_app, DrainingServer) as served:
        reader, writer = await served.connect()
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        served.server.abort_connections()  # type: ignore[attr-defined]
        assert await closed_by_peer(reader)
        await settled(lambda: count(served.server) == 0)


async def test_websocket_module() -> None:
    async with Uvicorn(asgi_app, DrainingServer) as served:
        reader, writer = await served.connect()
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        async with websockets.connect(f"ws://127.0.0.1:{served.port}/") as ws:
            modules = sorted(type(c).__module__ for c in served.server.server_state.connections)
            assert modules == [
                "uvicorn.protocols.http.httptools_impl",
                "uvicorn.protocols.websockets.websockets_sansio_impl",
            ]
            served.server.finish_http_connections()  # type: ignore[attr-defined]
            assert await closed_by_peer(reader)
            await ws.send("still open")
            assert await ws.recv() == "still open"


async def test_graceful_timeout() -> None:
    async def during(server: DrainingServer) -> None:
        server.set_graceful_timeout(0.1)

    async with Uvicorn(asgi_app, ShutdownProbe, timeout_graceful_shutdown=30) as served:
        served.server.during_shutdown = during  # type: ignore[attr-defined]
        _, writer = await served.connect()
        writer.write(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await settled(lambda: bool(served.server.server_state.tasks))
        started = time.monotonic()
        await served.stop()
        assert time.monotonic() - started < 5  # not 30: the value set in the hook was the one used


class HeaderProbe(HeaderTimeoutProtocol):
    events: ClassVar[list[str]] = []  # every connection's, in order

    def on_message_begin(self) -> None:
        self.events.append("begin")
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self.events.append("headers")
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self.events.append("response")
        super().on_response_complete()


@contextlib.asynccontextmanager
async def protocol_served(protocol_class: type[HttpToolsProtocol]) -> Any:
    """uvicorn's HTTP protocol class over a real socket; yields (protocols made, reader, writer)."""
    config = uvicorn.Config(asgi_app, http=protocol_class, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    made: list[Any] = []

    def factory() -> Any:
        made.append(config.http_protocol_class(config=config, server_state=state, app_state={}))  # type: ignore[call-arg]
        return made[-1]

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        await settled(lambda: bool(made))
        yield made, reader, writer
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


async def test_httptools_protocol() -> None:
    assert AutoHTTPProtocol is HttpToolsProtocol
    protocol_class = with_header_timeout(60)
    async with protocol_served(protocol_class) as (made, reader, writer):
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        assert type(made[0]) is protocol_class


async def test_parser_callbacks() -> None:
    HeaderProbe.events = []
    async with protocol_served(HeaderProbe) as (_, reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        await settled(lambda: HeaderProbe.events == ["begin"])
        writer.write(b"\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        assert (await get(reader, writer)).startswith(b"HTTP/1.1 200")
        await settled(lambda: len(HeaderProbe.events) == 6)
        assert HeaderProbe.events == ["begin", "headers", "response", "begin", "headers", "response"]


async def test_cycle_state() -> None:
    async with protocol_served(with_header_timeout(60)) as (made, reader, writer):
        protocol = made[0]
        assert protocol.cycle is None and protocol.client == writer.get_extra_info("sockname")
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")  # answered unread
        await writer.drain()
        assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        await settled(lambda: protocol.cycle is not None and protocol.cycle.response_complete)
        assert protocol.cycle.more_body


@contextlib.asynccontextmanager
async def websocket_sends(ws: Any, **options: Any) -> Any:
    """A real uvicorn WebSocket connection; yields (the app's `send`, the client)."""
    sends: list[Any] = []
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        sends.append(send)
        await done.wait()

    async with (
        Uvicorn(app, ws=ws, **options) as served,
        websockets.connect(f"ws://127.0.0.1:{served.port}/") as client,
    ):
        await settled(lambda: bool(sends))
        try:
            yield sends[0], client
        finally:
            done.set()


@contextlib.contextmanager
def collector_off() -> Any:
    """What is freed now is freed by reference counting, not by the cyclic collector."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def one_websocket_session(app_checks: Any, **options: Any) -> list[weakref.ref[Any]]:
    """A real uvicorn WebSocket session (accept, one message, client closes); weak refs to its protocols."""
    made: list[weakref.ref[Any]] = []
    ws_class = options.pop("ws", LeanWebSocketProtocol)
    http_class = options.pop("http", with_header_timeout(60))

    class WsProbe(ws_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    class HttpProbe(http_class):  # type: ignore[misc, valid-type]
        def handle_websocket_upgrade(self) -> None:
            made.append(weakref.ref(self))
            super().handle_websocket_upgrade()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        app_checks(send.__self__)
        await send({"type": "websocket.send", "text": "hi"})
        assert (await receive())["type"] == "websocket.disconnect"

    # RawSendTap, as the server has it, keeps the protocol's `send` in its scope (tcp_reset.py).
    async with Uvicorn(RawSendTap(app), ws=WsProbe, http=HttpProbe, **options) as served:
        async with websockets.connect(f"ws://127.0.0.1:{served.port}/") as client:
            assert await client.recv() == "hi"
        await settled(lambda: len(made) == 2 and not served.server.server_state.connections)
        await asyncio.sleep(0.05)  # uvloop's own references to a closed transport go in a later turn
    return made


async def test_ws_sansio_protocol() -> None:
    seen: list[Any] = []

    def lean(protocol: Any) -> None:
        seen.append((protocol.request, protocol.response, protocol.conn.logger.name))

    with collector_off():
        made = await one_websocket_session(lean)
        _, ws_protocol = made
        assert seen == [(None, None, FRAMES_LOGGER)]
        assert ws_protocol() is None  # freed without the collector: no cycle left
        stock = await one_websocket_session(lambda _: None, ws=WebSocketsSansIOProtocol)
        assert stock[1]() is not None  # uvicorn's own class: its connection waits for a collection


async def test_upgrade_handoff() -> None:
    with collector_off():
        lean = await one_websocket_session(lambda _: None)
        assert lean[0]() is None  # the HTTP protocol, upgraded away, freed at once
        stock = await one_websocket_session(lambda _: None, http=HttpToolsProtocol)
        assert stock[0]() is not None  # uvicorn's own: parser <-> protocol, a cycle


# The `websockets` implementation (WS_IMPLEMENTATION=websockets) is deprecated, not gone.
LEGACY_WEBSOCKETS = ("ignore::DeprecationWarning", "ignore:The `websockets` implementation is deprecated")


@pytest.mark.filterwarnings(*LEGACY_WEBSOCKETS)
async def test_send_self_transport() -> None:
    for ws in ("websockets-sansio", "wsproto", "websockets"):
        async with websocket_sends(ws) as (send, client):
            assert isinstance(send.__self__.transport, asyncio.Transport), ws
            assert reset({RAW_SEND: send})
            with pytest.raises(websockets.ConnectionClosedError):
                await asyncio.wait_for(client.recv(), 5)


@pytest.mark.filterwarnings(*LEGACY_WEBSOCKETS)
async def test_send_backpressure() -> None:
    for ws in ("websockets-sansio", "wsproto", "websockets"):
        async with websocket_sends(ws) as (send, client):
            message = {"type": "websocket.send", "text": "x"}
            with pytest.raises(StopIteration):
                send(message).send(None)  # completes at once: ws_writer's direct write
            protocol = send.__self__
            protocol.pause_writing()
            blocked = send(message)
            yielded = blocked.send(None)  # suspends: waits for the transport
            protocol.resume_writing()
            await asyncio.wait_for(_resume(blocked, yielded), 2)  # how ws_writer finishes it
            assert [await client.recv(), await client.recv()] == ["x", "x"]


@pytest.mark.filterwarnings(*LEGACY_WEBSOCKETS)
async def test_direct_frames() -> None:
    for ws in ("wsproto", "websockets"):
        async with websocket_sends(ws) as (send, _):
            assert direct_writer(send) is None, ws  # only the protocol whose attributes were checked
    async with websocket_sends("websockets-sansio") as (send, _):  # deflate negotiated
        direct = direct_writer(send)
        assert direct is not None and send.__self__.conn.extensions
        assert not direct(text_frame("4x"))  # frames would have to be compressed: send() does it
    for lean in (False, True):
        await _direct_frames_without_deflate(LeanWebSocketProtocol if lean else "websockets-sansio")
    await _frame_lanes_follow_the_protocol()


async def _direct_frames_without_deflate(ws: Any) -> None:
    async with websocket_sends(ws, ws_per_message_deflate=False) as (send, client):
        direct = direct_writer(send)
        assert direct is not None, ws  # uvicorn's protocol, and the lean one the server runs
        for text in ("4x", "4" + "é" * 200, "4" + "y" * 70_000):  # each length encoding
            assert direct(text_frame(text))
            assert await client.recv() == text
        protocol = send.__self__
        protocol.pause_writing()
        assert not direct(text_frame("4paused"))  # uvicorn's send would wait: so must the caller
        protocol.resume_writing()
        assert direct(text_frame("4resumed"))
        assert await client.recv() == "4resumed"
        await send({"type": "websocket.close", "code": 1000})
        assert protocol.close_sent and not direct(text_frame("4late"))


async def _frame_lanes_follow_the_protocol() -> None:
    """The lane's bits as the protocol's own state changes, on a real connection (frame_lane.FrameLane)."""
    async with websocket_sends("websockets-sansio", ws_per_message_deflate=False) as (send, _):
        assert frame_lane(send) is None  # uvicorn's own protocol keeps no bits: direct_writer checks
    async with websocket_sends(LeanWebSocketProtocol, ws_per_message_deflate=True) as (send, _):
        assert frame_lane(send) is None  # deflate negotiated: frames must be compressed by send()
    async with websocket_sends(LeanWebSocketProtocol, ws_per_message_deflate=False) as (send, client):
        lane = frame_lane(send)
        protocol = send.__self__
        assert lane is not None and protocol.frame_lane is lane
        assert lane.blocked == FrameLane.SINK and not lane.write(text_frame("4x"))  # no queue took it yet
        lane.unblock(FrameLane.SINK)
        assert lane.write(text_frame("4open"))
        assert await client.recv() == "4open"
        # Write until the transport's buffer passes its high-water mark (nothing reads meanwhile:
        # the client runs on this event loop): the transport pauses the protocol, which blocks the lane.
        protocol.transport.set_write_buffer_limits(high=1 << 16)
        text = "4" + "z" * 60_000
        sent = 0
        while not lane.blocked and sent < 5_000:
            assert lane.write(text_frame(text))
            sent += 1
        assert lane.blocked == FrameLane.PAUSED and not lane.write(text_frame("4paused"))
        for _ in range(sent):
            assert await client.recv() == text
        await eventually(lambda: lane.blocked == 0)  # drained: the transport resumed the protocol
        assert lane.write(text_frame("4resumed"))
        assert await client.recv() == "4resumed"
        await send({"type": "websocket.close", "code": 1000})
        assert lane.blocked == FrameLane.CLOSED and not lane.write(text_frame("4late"))
        await client.wait_closed()
        await eventually(lambda: protocol.disconnected)
        assert lane.blocked == FrameLane.CLOSED
    async with websocket_sends(LeanWebSocketProtocol, ws_per_message_deflate=False) as (send, client):
        lane = frame_lane(send)
        protocol = send.__self__
        assert lane is not None
        lane.unblock(FrameLane.SINK)
        await client.close()  # the peer leaves: connection_lost closes the lane for good
        await eventually(lambda: protocol.disconnected)
        assert lane.blocked == FrameLane.CLOSED and not lane.write(text_frame("4gone"))


# -- Starlette ------------------------------------------------------------------------------------
async def inner_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    inner_app.scopes.append(scope)  # type: ignore[attr-defined]


inner_app.scopes = []  # type: ignore[attr-defined]


def test_mount_attributes() -> None:
    app = FastAPI()
    app.mount("/ws", inner_app)
    assert [(r.path, r.app) for r in app.router.routes if isinstance(r, Mount)] == [("/ws", inner_app)]
    lane = EngineIOFastLane(app, router=app.router, prefixes=("/ws/",))
    assert lane._mounted() == [("/ws/", inner_app)]


async def test_mount_scope() -> None:
    app = FastAPI(middleware=[Middleware(RawSendTap)])
    app.mount("/ws", inner_app)
    inner_app.scopes.clear()  # type: ignore[attr-defined]

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {"type": "websocket", "path": "/ws/socket.io/", "root_path": "", "query_string": b"",
             "headers": [], "app": app}  # fmt: skip
    await app(scope, receive, send)
    [seen] = inner_app.scopes  # type: ignore[attr-defined]
    assert seen is scope and seen["path"] == "/ws/socket.io/" and seen[RAW_SEND] is send
