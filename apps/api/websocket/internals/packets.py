"""Engine.IO and Socket.IO packets: checking what a client sends, building what a broadcast sends.

`engineio.packet.Packet` and `engineio.payload.Payload` are python-engineio's
wire codecs, not a documented API; the HTTP guard (websocket/gateway/http_guard.py)
uses them through the two `valid_client_*` functions.

`event_packet` writes the Socket.IO EVENT packet of an event whose one
argument is JSON already (an envelope), by formatting, as python-socketio's
`Packet.encode()` would write it (`2/ws,["type",{...}]`) without building a
packet object, walking the data for binary parts and serialising it again.
The `EventPacket` it returns is made once per room broadcast and shared by
every recipient: sized once (packet_queue.py), its Engine.IO text, its
ASGI WebSocket message (`frame`) and its WebSocket frame bytes (`wire`, see
ws_frames.py) made once, so writing it to one more WebSocket (ws_writer.py)
builds nothing.
"""

from __future__ import annotations

from sys import getsizeof

from engineio import packet as eio_packet
from engineio.payload import Payload
from socketio import packet as sio_packet

from websocket.internals.packet_queue import SizedPacket
from websocket.internals.ws_frames import text_frame
from websocket.protocol import jsonlib

# What a client may send over polling: CLOSE, PONG, MESSAGE. (NOOP is the server's, to end
# a poll: python-engineio 4.15 answers a client's NOOP in a POST by closing the session
# and holding that POST until the client polls the CLOSE, which it may never do.)
CLIENT_POLLING_PACKETS = frozenset({eio_packet.CLOSE, eio_packet.PONG, eio_packet.MESSAGE})
# Over WebSocket also PING (a client's own ping, and "2probe" during the upgrade), UPGRADE,
# and NOOP, which the socket loops ignore there.
CLIENT_WEBSOCKET_PACKETS = CLIENT_POLLING_PACKETS | {eio_packet.PING, eio_packet.UPGRADE, eio_packet.NOOP}


def valid_client_frame(text: str) -> bool:
    """A WebSocket text frame is one Engine.IO packet of a kind a client may send."""
    try:
        return eio_packet.Packet(encoded_packet=text).packet_type in CLIENT_WEBSOCKET_PACKETS
    except Exception:  # Engine.IO's decoder raises whatever the text provokes
        return False


def valid_client_payload(body: bytes) -> bool:
    """A polling POST body is an Engine.IO payload of packets a client may send."""
    try:
        payload = Payload(encoded_payload=body.decode("utf-8"))
    except Exception:  # Engine.IO's decoder raises whatever the bytes provoke
        return False
    return all(pkt.packet_type in CLIENT_POLLING_PACKETS for pkt in payload.packets)


class EventPacket(SizedPacket):
    """An Engine.IO MESSAGE carrying one Socket.IO packet, encoded once for every recipient."""

    __slots__ = ("_wire", "encode_cache", "frame")

    def __init__(self, text: str) -> None:
        # Packet.__init__(MESSAGE, text) and SizedPacket's sizing, without their type checks: text is str.
        # (Packet has no __slots__: these go to the instance __dict__, which mypy does not see.)
        self.packet_type = eio_packet.MESSAGE  # type: ignore[misc]
        self.data = text  # type: ignore[misc]
        self.binary = False  # type: ignore[misc]
        self.size = getsizeof(text)
        encoded = "4" + text  # what Engine.IO's Packet.encode() writes for a MESSAGE
        self.encode_cache = encoded  # long-polling reads it through encode()
        self.frame = {"type": "websocket.send", "text": encoded}
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The WebSocket frame of this packet (ws_frames.py), made on first use."""
        wire = self._wire
        if wire is None:
            wire = self._wire = text_frame(self.frame["text"])
        return wire


_prefixes: dict[tuple[str, str], str] = {}


def _prefix(namespace: str, event: str) -> str:
    """`2/ws,["workflow.progress",`: the packet up to its argument, made once per (namespace, type)."""
    key = (namespace, event)
    prefix = _prefixes.get(key)
    if prefix is None:
        scope = "" if namespace == "/" else namespace + ","
        prefix = f"{sio_packet.EVENT}{scope}[{jsonlib.dumps(event)},"
        if len(_prefixes) < 1024:  # event names are a small fixed set; anything else is not kept
            _prefixes[key] = prefix
    return prefix


def event_packet(namespace: str, event: str, argument: bytes) -> EventPacket:
    """The packet of `event` with one argument, `argument` being JSON text (UTF-8)."""
    return EventPacket(_prefix(namespace, event) + argument.decode() + "]")
