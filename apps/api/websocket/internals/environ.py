"""What python-engineio's ASGI driver puts in a request's environ beyond WSGI's keys.

python-engineio hands every handler a WSGI-style environ; under ASGI its
`REMOTE_ADDR` is always 127.0.0.1, and the request's ASGI scope (with the real
peer in `client`) is under the undocumented key `asgi.scope`.
"""

from __future__ import annotations

from typing import Any


def asgi_scope(environ: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ASGI scope of the request an environ was made from (None outside the ASGI driver)."""
    scope = environ.get("asgi.scope") if isinstance(environ, dict) else None
    return scope if isinstance(scope, dict) else None


def client_address(environ: dict[str, Any] | None) -> str:
    """The peer's address from an Engine.IO environ (ASGI scope), or "unknown"."""
    if not environ:
        return "unknown"
    client = (asgi_scope(environ) or {}).get("client")
    return str(client[0]) if client else str(environ.get("REMOTE_ADDR", "unknown"))
