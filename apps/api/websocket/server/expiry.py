"""Disconnecting each connection when its token expires, not when it next reconnects.

One event-loop timer (`loop.call_at`) per connection: no Task and no
coroutine exist until a token actually expires, so ten thousand idle
connections cost ten thousand small timer handles. A refreshed token
reschedules its connection's timer; a disconnect cancels it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from logging_setup import get_logger

log = get_logger("websocket.server.expiry")

ExpireFn = Callable[[str], Awaitable[None]]


class ExpiryTimers:
    def __init__(self, on_expire: ExpireFn) -> None:
        self._on_expire = on_expire
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._handles)

    def schedule(self, sid: str, expires_at: float) -> None:
        """Call `on_expire(sid)` at the wall-clock time `expires_at` (a JWT `exp`)."""
        self.cancel(sid)
        loop = asyncio.get_running_loop()
        # The loop's clock is monotonic; convert once, now.
        delay = max(0.0, expires_at - time.time())
        self._handles[sid] = loop.call_at(loop.time() + delay, self._fire, sid)

    def cancel(self, sid: str) -> None:
        handle = self._handles.pop(sid, None)
        if handle is not None:
            handle.cancel()

    def _fire(self, sid: str) -> None:
        self._handles.pop(sid, None)
        task = asyncio.get_running_loop().create_task(self._run(sid))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, sid: str) -> None:
        try:
            await self._on_expire(sid)
        except Exception:
            log.exception("token_expiry_failed", connection_id=sid)
