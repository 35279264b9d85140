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

from typing import Any

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
