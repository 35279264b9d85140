"""Tokens the test servers accept (or deliberately don't)."""

from __future__ import annotations

from typing import Any

from websocket.access.tokens import mint_token

SECRET = "test-secret-key-that-is-long-enough-for-hs256-hs384-and-hs512-keys!"
WEBHOOK_SECRET = "test-github-webhook-secret"
READ_SCOPES = ("projects:read", "agents:read", "workflows:read")


def token(
    sub: str = "user-1",
    *,
    role: str = "user",
    scopes: tuple[str, ...] | list[str] = READ_SCOPES,
    secret: str = SECRET,
    **kwargs: Any,
) -> str:
    return mint_token(secret, sub=sub, email=f"{sub}@example.com", role=role, scopes=scopes, **kwargs)
