"""Closing one Engine.IO session at shutdown: wait while its client collects, not longer.

A session's goodbye (`server.shutdown`, then Engine.IO's CLOSE packet) is
queued like any other packet; closing waits until the client has been sent
it. How long that may take depends on the transport:

* over WebSocket the writer sends it at once: wait, up to the drain's deadline
  (a client that stopped reading is cut off there);
* over long-polling the client collects it with its next poll. A client that
  behaves always has a poll open, but for the one round trip between two polls
  (socket.io-client under Node opens a new TCP connection for each poll, which
  is why the listening socket stays open during the drain, see
  serving.GracefulServer). So the drain waits while a poll is open or the last
  one ended less than `POLL_GAP` seconds ago; a client that stopped polling, or a
  handshake that never joined `/ws` and never polled again, holds nothing.

A session given up on is closed without its goodbye: its queue is dropped, so
closing does not wait for it, and its next request, if any, is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from websocket.internals import sessions
from websocket.internals.fastsocket import FastSocket

# Seconds a long-polling client may take between one poll's answer and its next
# poll: one round trip, with room for a slow mobile link.
POLL_GAP = 1.0


def _patience(socket: Any, deadline: float, started: float) -> float:
    """Until when (event loop time) to keep waiting for `socket` to collect its goodbye."""
    if sessions.is_websocket(socket):
        return deadline
    if isinstance(socket, FastSocket):
        polled_at = socket.polled_at
        return deadline if polled_at is None else min(deadline, polled_at + POLL_GAP)
    # python-engineio's own socket (the Admin UI is on) does not say when it polled.
    return min(deadline, started + POLL_GAP)


async def say_goodbye(socket: Any, reason: str, deadline: float) -> bool:
    """Close `socket` cleanly; True once its client has been sent the CLOSE packet.

    `deadline` is event loop time; never returns later than it. What was queued
    before (`server.shutdown`) is collected first, and only then CLOSE queued:
    socket.io-client hands an event on at the next tick but handles CLOSE at
    once, so an event that arrives in the same long-polling answer as CLOSE is
    lost.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    flushed = asyncio.ensure_future(sessions.sent_all(socket))
    if not await _while_collecting(socket, flushed, deadline, started):
        flushed.cancel()
        with contextlib.suppress(TimeoutError):
            # Nobody to wait for: close without waiting (CLOSE stays queued for a poll that
            # will probably never come).
            await asyncio.wait_for(sessions.close(socket, reason, wait=False), max(0.0, deadline - started))
        return False
    closing = asyncio.ensure_future(sessions.close(socket, reason, wait=True))
    if await _while_collecting(socket, closing, deadline, started):
        return closing.exception() is None
    # Stop waiting for the client; a disconnect handler in progress still finishes.
    queue = sessions.queue_of(socket)
    if queue is not None:
        queue.close()
    else:
        closing.cancel()
    done, _ = await asyncio.wait({closing}, timeout=max(0.0, deadline - loop.time()))
    if not done:
        closing.cancel()
    return False


async def _while_collecting(socket: Any, task: asyncio.Future[None], deadline: float, started: float) -> bool:
    """Wait for `task` while the client is collecting; True once it is done, False on giving up."""
    loop = asyncio.get_running_loop()
    while True:
        until = _patience(socket, deadline, started)
        if task.done() or until <= loop.time():
            return task.done()
        await asyncio.wait({task}, timeout=until - loop.time())
