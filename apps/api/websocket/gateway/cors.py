"""Which browser origins may talk to the server, on REST and on the Engine.IO handshake.

Engine.IO answers CORS on its own endpoints (with `origin_checker`); Starlette's
CORS middleware answers it for REST routes only (`RestCORSMiddleware`):
letting both act on the same request would send two
Access-Control-Allow-Origin headers, which browsers reject.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from config import Settings
from websocket import audit
from websocket.internals.environ import client_address
from websocket.protocol.errors import ErrorCode
from websocket.protocol.paths import ENGINEIO_PREFIXES

# Set in a request's environ once its refusal is audited: Engine.IO asks the checker twice for a
# refused request (to refuse it, then for the CORS headers of the refusal), and it is one refusal.
_AUDITED = "eventserver.origin_refusal_audited"


def origin_checker(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """Engine.IO's handshake origin test: configured origins, or the server's own origin."""
    allowed = set(settings.allowed_origins)
    wildcard = "*" in allowed

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or wildcard or origin in allowed:
            return True
        host = environ.get("HTTP_HOST")
        scheme = environ.get("wsgi.url_scheme", "http")
        if scheme in ("ws", "wss"):
            scheme = "https" if scheme == "wss" else "http"
        if host is not None and origin == f"{scheme}://{host}":
            return True
        if not environ.get(_AUDITED):
            environ[_AUDITED] = True
            audit.denied(
                "handshake_refused", ErrorCode.ORIGIN_NOT_ALLOWED, client_addr=client_address(environ),
                origin=origin[:200],
            )  # fmt: skip
        return False

    return check


class RestCORSMiddleware:
    """Starlette's CORS for REST routes only.

    Engine.IO answers CORS on its own endpoints; letting both act on the same
    request sends two Access-Control-Allow-Origin headers, which browsers reject.
    """

    def __init__(self, app: ASGIApp, /, **cors: Any) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(ENGINEIO_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
