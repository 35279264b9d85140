"""Resetting the TCP connection under an ASGI WebSocket: the one thing ASGI cannot say.

ASGI ends a WebSocket with a close frame, and a close frame has to reach the
peer: uvicorn writes it behind everything the peer has not read yet, and its
transport closes only once that buffer is flushed. A peer that never reads
again therefore keeps the connection, and the kernel's buffers for it, for
as long as it likes. Only aborting the transport (a TCP reset) ends it.

uvicorn keeps the transport on the protocol object whose method is the ASGI
`send` it hands to the application (`send.__self__.transport`, the same on
uvicorn 0.54's `websockets-sansio`, `wsproto` and `websockets` protocols).
That private name is read in `reset()` and nowhere else. Middlewares below the
first one may wrap `send` (Starlette's exception middleware does), so
`RawSendTap`, added as an application middleware, keeps uvicorn's own `send`
in the WebSocket's scope, which Starlette's router and mounts pass down to
Engine.IO as the same dict.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

RAW_SEND = "eventserver.raw_send"


class RawSendTap:
    """Keeps the server's own ASGI `send` of each WebSocket in its scope (see `reset`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


def reset(scope: dict[str, Any] | None) -> bool:
    """Abort the TCP connection of this WebSocket scope: unsent data is dropped, the peer gets a reset.

    False when it cannot be done (no tap, or a server other than uvicorn).
    """
    send = scope.get(RAW_SEND) if scope else None
    transport = getattr(getattr(send, "__self__", None), "transport", None)  # uvicorn-private
    abort = getattr(transport, "abort", None)
    if not callable(abort):
        return False
    abort()
    return True
