"""A broadcast's WebSocket frame, made once and written as bytes to every recipient's transport.

A packet shared by the recipients of a broadcast (`packets.EventPacket`) is
one Engine.IO text: through the ASGI `send`, uvicorn's websockets-sansio
protocol frames it again for every recipient (a `Frame` object, its header,
a join) inside a coroutine driven by hand. The frame a server sends is the
same bytes for everyone (RFC 6455: server frames are not masked; without
per-message deflate, which is off by default, not compressed), so it is made
once (`text_frame`) and written with `transport.write()`.

Only when uvicorn's own `send` would write it at once, in the same way:
the handshake is done, no close was sent or received, the transport is
not paused (uvicorn's `writable`, which is how backpressure reaches
ws_writer.py and the slow-consumer limit) and not closing, and the
connection negotiated no extension. Otherwise `direct` returns False and
the caller goes through `send`, which decides as it always did.

Two ways to ask. `direct_writer` checks every condition at each write, from
the protocol's attributes: it works for uvicorn's protocol as it is. On
`LeanWebSocketProtocol` (the server's default) a `FrameLane` is kept
instead: the protocol and the connection's packet queue mark it blocked and
unblocked as those conditions change (`blocked`, a bit per reason), so a
broadcast reads one flag and the transport's `is_closing()` per recipient
(manager.py) rather than walking five objects. With 5,000 recipients that
walk cost about 1.6 µs per write on top of the system call (cache misses,
not Python operations: bench/RESULTS.md, issue 18).

uvicorn 0.54's `WebSocketsSansIOProtocol` attributes (the same on
`LeanWebSocketProtocol`, which the server runs by default) (`transport`, `conn`,
`writable`, `handshake_complete`, `close_sent`, `initial_response`,
`disconnected`) and websockets' `Protocol.state` / `extensions` are read
here and nowhere else; tests/websocket/internals/test_library_internals.py
checks them (`direct_frames`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from websocket.internals.frame_lane import FrameLane, write_frame
from websocket.internals.ws_protocol import LeanWebSocketProtocol

DirectWrite = Callable[[bytes], bool]
# uvicorn's protocol and ours (ws_protocol.py), which changes nothing read here.
KNOWN_PROTOCOLS = (WebSocketsSansIOProtocol, LeanWebSocketProtocol)

_TEXT_FIN = 0x81  # FIN, opcode 1 (text)


def text_frame(text: str) -> bytes:
    """The unmasked, uncompressed WebSocket frame of one text message."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _TEXT_FIN, size)
    elif size < 65536:
        header = struct.pack("!BBH", _TEXT_FIN, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, size)
    return header + payload


def direct_writer(send: Any) -> DirectWrite | None:
    """A writer of ready frames for this ASGI `send`, or None when `send` is not one it knows."""
    protocol: Any = getattr(send, "__self__", None)
    if type(protocol) not in KNOWN_PROTOCOLS:
        return None
    conn = protocol.conn
    opened = State.OPEN

    def direct(frame: bytes) -> bool:
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or not protocol.writable.is_set()
            or conn.state is not opened
            or conn.extensions
        ):
            return False
        return write_frame(protocol.transport, frame)

    return direct


def frame_lane(send: Any) -> FrameLane | None:
    """The lane of the WebSocket behind this ASGI `send`, or None where there can be none.

    Only `LeanWebSocketProtocol` keeps its lane's bits; a connection that
    negotiated an extension (frames would have to be compressed) never gets one.
    """
    protocol: Any = getattr(send, "__self__", None)
    if type(protocol) is not LeanWebSocketProtocol:
        return None
    if protocol.conn.extensions or not protocol.handshake_complete or protocol.initial_response is not None:
        return None
    blocked = FrameLane.SINK  # until the packet queue takes it (packet_queue.py)
    if not protocol.writable.is_set():
        blocked |= FrameLane.PAUSED
    if protocol.close_sent or protocol.disconnected or protocol.conn.state is not State.OPEN:
        blocked |= FrameLane.CLOSED
    lane = FrameLane(protocol.transport, blocked)
    protocol.frame_lane = lane
    return lane
