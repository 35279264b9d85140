"""Checking what a client sends with python-engineio's own codecs, before python-engineio reads it.

`engineio.packet.Packet` and `engineio.payload.Payload` are python-engineio's
wire codecs, not a documented API; the HTTP guard (websocket/gateway/http_guard.py)
uses them through these two functions.
"""

from __future__ import annotations

from engineio import packet as eio_packet
from engineio.payload import Payload

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
