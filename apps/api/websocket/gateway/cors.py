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
from websocket.protocol.paths import ENGINEIO_PREFIXES

OriginPolicy = Callable[[str, str | None, str], bool]  # (origin, Host header, URL scheme) -> allowed


def origin_policy(settings: Settings) -> OriginPolicy:
    """Whether a browser `Origin` may talk to the Engine.IO endpoint: a configured one, or our own."""
    allowed = set(settings.allowed_origins)
    wildcard = "*" in allowed

    def allows(origin: str, host: str | None, scheme: str) -> bool:
        if wildcard or origin in allowed:
            return True
        if scheme in ("ws", "wss"):
            scheme = "https" if scheme == "wss" else "http"
        return host is not None and origin == f"{scheme}://{host}"

    return allows


def origin_checker(settings: Settings) -> Callable[[str | None, dict[str, Any]], bool]:
    """python-engineio's origin test (`cors_allowed_origins`), which also sets the CORS headers.

    It decides as the gateway does (websocket/gateway/http_guard.py), which
    refuses and audits a foreign origin before python-engineio reads the
    request: by then nothing refused reaches this test, and python-engineio
    never logs a refusal of its own.
    """
    allows = origin_policy(settings)

    def check(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True
        return allows(origin, environ.get("HTTP_HOST"), environ.get("wsgi.url_scheme", "http"))

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
