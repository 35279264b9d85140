"""The price of a command: one token of the connection's bucket, and the flood cut-off.

Every command a client sends, known or not, valid or not, is charged before
anything else is done with it (limits.py has the bucket and the strikes).
Over the rate it is refused with `RATE_LIMITED`; a connection that keeps
sending once refused is flooding and is closed (`connection.error`
`RATE_LIMITED`, then the close), after that command's ack has been queued so
that the client learns both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from websocket import audit
from websocket.limits.connection import Verdict
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.server.connections import Connection, ConnectionOps


class CommandRateLimit:
    def __init__(self, command_rate: float, control: ConnectionOps) -> None:
        self.command_rate = command_rate  # for the message; the buckets are the connections'
        self.control = control
        self._tasks: set[asyncio.Task[None]] = set()

    def charge(self, conn: Connection) -> None:
        """Take one command from the connection's budget; a flood ends the connection."""
        verdict = conn.limiter.check() if conn.limiter else Verdict.ALLOW
        if verdict is Verdict.ALLOW:
            return
        if verdict is Verdict.DISCONNECT and not conn.closing:
            audit.denied(
                "websocket_flooding", ErrorCode.RATE_LIMITED, client_addr=conn.client_addr,
                user_id=conn.user.id, connection_id=conn.sid,
            )  # fmt: skip
            # After this command's ack has been queued: the client learns both.
            self._spawn(
                self.control.close_with(
                    conn.sid, ErrorCode.RATE_LIMITED, "Too many commands; disconnected for flooding"
                )
            )
        raise WebSocketError(
            f"More than {self.command_rate:g} commands per second; slow down", ErrorCode.RATE_LIMITED
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
