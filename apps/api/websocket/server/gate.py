"""Who may become a Socket.IO connection of this instance, once the namespace connect is read.

The token comes from the connect's `auth.token`, else from the handshake's
`token` query parameter, and gets the validator's full check. Then the
instance decides: it refuses while it drains for shutdown, for a user whose
access was revoked after the token was issued, when it is full
(`MAX_CONNECTIONS`) and past `MAX_CONNECTIONS_PER_USER`; connections already
in are never touched. What one client address may do before this (pending
sessions, failed connects) is admission.py's: it runs at the Engine.IO level
and knows addresses, not users.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from websocket.access.revocation import RevocationList
from websocket.access.tokens import Principal, TokenValidator
from websocket.limits.connection import Limits
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.server.connections import ConnectionRegistry


def token_from(auth: Any, environ: dict[str, Any]) -> str | None:
    """`auth.token` first, then the `token` query parameter of the handshake."""
    if isinstance(auth, dict) and auth.get("token") is not None:
        token = auth["token"]
        return token if isinstance(token, str) else ""
    values = parse_qs(environ.get("QUERY_STRING", "")).get("token")
    return values[0] if values else None


class ConnectionGate:
    def __init__(
        self, validator: TokenValidator, registry: ConnectionRegistry, revoked: RevocationList, limits: Limits
    ) -> None:
        self.validator = validator
        self.registry = registry
        self.revoked = revoked
        self.limits = limits
        self.accepting = True  # False once the instance drains for shutdown

    def close(self) -> None:
        """Refuse every new connection from now on (`SERVER_SHUTTING_DOWN`, retryable)."""
        self.accepting = False

    def principal(self, auth: Any, environ: dict[str, Any]) -> Principal:
        """Who the connect's token says the client is; `WebSocketError` if it says nothing valid."""
        return self.validator.validate(token_from(auth, environ))

    def admit(self, user: Principal) -> None:
        """Refuse a new connection the instance should not take; existing ones are untouched."""
        if not self.accepting:
            raise WebSocketError(
                "This instance is shutting down; connect again", ErrorCode.SERVER_SHUTTING_DOWN
            )
        if self.revoked.bars(user):
            raise WebSocketError(
                "Access was revoked; sign in again for a new token", ErrorCode.ACCESS_REVOKED
            )
        if len(self.registry) >= self.limits.max_connections:
            raise WebSocketError("This instance is full; try again later", ErrorCode.SERVER_FULL)
        if self.registry.count_of_user(user.id) >= self.limits.max_connections_per_user:
            raise WebSocketError(
                f"At most {self.limits.max_connections_per_user} connections per user; close one first",
                ErrorCode.TOO_MANY_CONNECTIONS,
            )
