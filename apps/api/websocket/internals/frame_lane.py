"""`FrameLane`: whether a broadcast's ready frame may be written to a WebSocket at once.

Its bits are kept by the lean protocol (ws_protocol.py) and the connection's
packet queue (packet_queue.py); ws_frames.py makes one per connection and
manager.py writes through it. A module of its own so that all of them can
import it without importing each other.
"""

from __future__ import annotations

from typing import Any


def write_frame(transport: Any, frame: bytes) -> bool:
    """Write `frame` unless the transport is closing (as uvicorn's `send` checks)."""
    if transport.is_closing():
        return False
    transport.write(frame)
    return True


class FrameLane:
    """A WebSocket a ready frame may be written to at once, while `blocked` is 0.

    Each reason to go through `send` instead is a bit, set and cleared by
    whoever sees it change: `SINK` by the connection's packet queue (packets
    wait, the writer runs, the queue is sealed or closed: packet_queue.py),
    `PAUSED` by the protocol's pause_writing/resume_writing, `CLOSED` by the
    protocol once a close is sent or the connection is lost (ws_protocol.py),
    for good. A closing transport is checked by the writer itself
    (`transport.is_closing()`), as uvicorn's `send` does.
    """

    __slots__ = ("blocked", "transport")

    SINK = 1
    PAUSED = 2
    CLOSED = 4

    def __init__(self, transport: Any, blocked: int) -> None:
        self.transport = transport
        self.blocked = blocked

    def block(self, reason: int) -> None:
        self.blocked |= reason

    def unblock(self, reason: int) -> None:
        self.blocked &= ~reason

    def write(self, frame: bytes) -> bool:
        """Write `frame` if nothing blocks the lane; False: go through `send`."""
        return not self.blocked and write_frame(self.transport, frame)
