"""One Engine.IO session (python-engineio's socket object), read and closed through small functions.

python-engineio documents its server's methods, not the socket objects it
keeps per session (`AsyncSocket`, or `FastSocket` on the fast path): their
`upgraded`, `closed`, `queue` and `close()` are internals. The code that
decides what to do with a session (slow consumers, the shutdown goodbye) goes
through these functions; the sessions themselves come from
`SocketIOServerBase.engineio_session()` / `engineio_sessions()`
(socketio_server.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engineio import packet as eio_packet

from websocket.internals.fastsocket import FastSocket
from websocket.internals.packet_queue import PacketQueue

Session = Any  # python-engineio's AsyncSocket (a FastSocket on the fast path)


def is_websocket(session: Session) -> bool:
    """The session writes to a WebSocket (it was opened on one, or upgraded from long-polling)."""
    return bool(session.upgraded)


def is_closed(session: Session) -> bool:
    return bool(session.closed)


async def close(session: Session, reason: str, *, wait: bool = True, abort: bool = False) -> None:
    """Engine.IO's close: `wait` for the client to collect its CLOSE packet, or `abort` the transport.

    Either way a WebSocket is closed by the server once the CLOSE packet is
    sent. (A stock `AsyncSocket`'s writer would leave it open until the client
    closes it or the ping timeout, and socket.io-client ignores CLOSE over
    WebSocket; `FastSocket.close` ends its writer itself.)
    """
    await session.close(wait=wait, abort=abort, reason=reason)
    if not abort and is_websocket(session) and not isinstance(session, FastSocket):
        session.queue.put_nowait(None)  # the stock writer's end marker: it closes the WebSocket


def queue_of(session: Session) -> PacketQueue | None:
    """The session's outgoing queue when it is ours (engine.py gives every session one)."""
    queue = session.queue
    return queue if isinstance(queue, PacketQueue) else None


async def sent_all(session: Session) -> None:
    """Return once everything queued for the session so far has been handed to its transport."""
    await session.queue.join()


def end_poll(session: Session) -> None:
    """Answer a long-poll in progress now: with what is queued, and a NOOP packet.

    NOOP is how Engine.IO ends a poll with nothing to say (the protocol's
    answer to a poll pending when the client closes the session); an empty
    body is not a payload at all.
    """
    session.queue.put_nowait(eio_packet.Packet(eio_packet.NOOP))


def seal(session: Session, goodbye: Iterable[Any]) -> None:
    """Drop what waits; leave only `goodbye` and Engine.IO's CLOSE packet to be sent, then nothing."""
    session.queue.seal([*goodbye, eio_packet.Packet(eio_packet.CLOSE)])
