"""The audit trail: one log line for every refusal, denial and forced disconnect.

Every line goes to the `audit` logger with the same fields, so an operator can
route or search them as one stream: the event name, the error `code`, the
`user_id` when the token was understood, and `client_addr`, the peer as the
ASGI scope gives it (the real client behind a configured trusted proxy, see
`TRUSTED_PROXIES`; never the `REMOTE_ADDR` of ASGI mode, always 127.0.0.1).

Nothing here ever receives a token: callers pass codes and short reasons, and
the log processors redact anything token-shaped that slips through elsewhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logging_setup import get_logger
from websocket.errors import ErrorCode

log = get_logger("audit")


def client_address(environ: dict[str, Any] | None) -> str:
    """The peer's address from an Engine.IO environ (ASGI scope), or "unknown"."""
    if not environ:
        return "unknown"
    client = environ.get("asgi.scope", {}).get("client")
    return str(client[0]) if client else str(environ.get("REMOTE_ADDR", "unknown"))


def denied(
    event: str,
    code: ErrorCode,
    *,
    client_addr: str,
    user_id: str | None = None,
    level: str = "warning",
    **detail: Any,
) -> None:
    """Record that something a client asked for was refused, or that it was cut off."""
    fields = {"code": code.value, "client_addr": client_addr, **detail}
    if user_id is not None:
        fields["user_id"] = user_id
    getattr(log, level)(event, **fields)


UserLookup = Callable[[str], str | None]
CloseSession = Callable[[str], Awaitable[None]]


class SizeGuard:
    """ASGI wrapper of the Engine.IO endpoint: messages over the size limit, refused and recorded.

    * WebSocket: uvicorn refuses an oversized message itself (close code
      1009, `ws_max_size`); this only records it.
    * Polling: Engine.IO would answer 400 only after closing the session and
      waiting for the client to collect the close, which a client that is not
      polling never does, so the POST would hang. This answers 413 at once
      and closes the session without waiting.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, user_of: UserLookup, close: CloseSession) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.user_of = user_of
        self.close = close

    def _refused(self, scope: Scope, eio_sid: str, size: int | None) -> None:
        client = scope.get("client")
        denied(
            "message_refused", ErrorCode.MESSAGE_TOO_LARGE,
            client_addr=str(client[0]) if client else "unknown",
            user_id=self.user_of(eio_sid) if eio_sid else None, size=size, limit=self.max_bytes,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        eio_sid = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid", [""])[0]
        if scope["type"] == "http" and scope.get("method") == "POST":
            length = dict(scope.get("headers", [])).get(b"content-length", b"0")
            if length.isdigit() and int(length) > self.max_bytes:
                self._refused(scope, eio_sid, int(length))
                if eio_sid:
                    await self.close(eio_sid)
                await send({"type": "http.response.start", "status": 413, "headers": _TEXT})
                await send({"type": "http.response.body", "body": b"Message too large"})
                return
        elif scope["type"] == "websocket":
            inner = receive

            async def receive() -> Message:
                message = await inner()
                if message["type"] == "websocket.disconnect" and message.get("code") == 1009:
                    self._refused(scope, eio_sid, None)
                return message

        await self.app(scope, receive, send)


_TEXT = [(b"content-type", b"text/plain")]
