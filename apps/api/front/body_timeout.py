"""Ending HTTP requests whose body stops arriving.

uvicorn hands a request body to the application as it arrives and waits for
the next chunk as long as the client likes; Starlette and Engine.IO read
bodies without a deadline too. `BodyTimeout` times every `receive()` that
waits for more body:

* the next chunk must come within `seconds` (a body that stalls);
* once `seconds` have passed since the application first asked for the body,
  the body must also have come at `min_rate` bytes per second on average
  since then (a body trickled a byte at a time, each in time for the first
  rule, would otherwise hold the connection for ever).

When a rule is broken the client is answered 408 (`connection: close`, so
uvicorn closes the connection after it), one audit line is written, and the
application is told the client went away (`http.disconnect`), as it would be
if the client had hung up. Waits after the body is complete (an application
listening for a disconnect during a long-poll) are not timed.

A client that goes away before its body is complete (timed out here, or hung
up) is not a fault of this server: Starlette's `ClientDisconnect`, which a
route reading the body then raises, ends the request quietly instead of
reaching uvicorn as "Exception in ASGI application".
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from websocket import audit
from websocket.protocol.errors import ErrorCode

_RESPONSE_START: Message = {
    "type": "http.response.start",
    "status": 408,
    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
}
_RESPONSE_BODY: Message = {
    "type": "http.response.body",
    "body": b'{"detail":{"code":"REQUEST_TIMEOUT","message":"the request body stopped arriving"}}',
}


class BodyTimeout:
    def __init__(self, app: ASGIApp, seconds: float, min_rate: int = 0) -> None:
        self.app = app
        self.seconds = seconds
        self.min_rate = min_rate  # bytes per second; 0: no minimum

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _Request(scope, receive, send, self.seconds, self.min_rate)
        try:
            await self.app(scope, request.receive, request.send)
        except ClientDisconnect:
            if not request.gone:
                raise


class _Request:
    __slots__ = (
        "_receive", "_send", "body_done", "first", "gone", "min_rate", "received", "responded", "scope",
        "seconds", "started", "timed_out",
    )  # fmt: skip

    def __init__(self, scope: Scope, receive: Receive, send: Send, seconds: float, min_rate: int) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.seconds = seconds
        self.min_rate = min_rate
        self.first: float | None = None  # when the application first asked for the body (loop time)
        self.received = 0
        self.body_done = False
        self.started = False  # the application has started its response
        self.timed_out = False
        self.gone = False  # the client went away (or was timed out) before its body was complete
        self.responded = False  # the response is our 408

    async def receive(self) -> Message:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.body_done:
            return await self._receive()
        deadline, reason = self._deadline()
        try:
            async with asyncio.timeout_at(deadline):
                message = await self._receive()
        except TimeoutError:
            await self._expire(reason)
            return {"type": "http.disconnect"}
        self.received += len(message.get("body", b""))
        if message["type"] != "http.request":
            self.gone = self.body_done = True
        elif not message.get("more_body", False):
            self.body_done = True
        return message

    def _deadline(self) -> tuple[float, str]:
        """When the next chunk is due (loop time), and which rule says so."""
        now = asyncio.get_running_loop().time()
        if self.first is None:
            self.first = now
        stalled = now + self.seconds
        if not self.min_rate:
            return stalled, "stalled"
        # Until then the bytes so far keep the average at min_rate (after the first `seconds`).
        slow = self.first + self.seconds + self.received / self.min_rate
        return (stalled, "stalled") if stalled <= slow else (slow, "too slow")

    async def _expire(self, reason: str) -> None:
        self.timed_out = self.gone = True
        client = self.scope.get("client")
        audit.denied(
            "request_timeout",
            ErrorCode.REQUEST_TIMEOUT,
            client_addr=str(client[0]) if client else "unknown",
            phase="body",
            reason=reason,
            path=self.scope.get("path", ""),
            limit_s=self.seconds,
            min_rate=self.min_rate,
            received=self.received,
        )
        if not self.started:
            self.responded = True
            await self._send(_RESPONSE_START)
            await self._send(_RESPONSE_BODY)

    async def send(self, message: Message) -> None:
        if self.responded:
            return  # the client has its answer (408); what the application says after is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
