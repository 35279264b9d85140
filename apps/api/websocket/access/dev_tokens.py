"""The development token: who signs it, for how long, and which validator accepts it.

By default a development token is signed with a key this process makes at
start and never writes anywhere, and names that key in its header (`kid`).
Only this process's `TokenValidator` knows the key, so a development token
works on this instance for `DEV_TOKEN_TTL` seconds and nowhere else: not on
another instance, not after a restart, and never in production (no issuer
exists there). A configured `JWT_SECRET_KEY` signs development tokens only
when `DEV_TOKEN_USE_JWT_SECRET=true` says so (several instances in
development sharing one token).

The token itself is never logged: `GET /ws/dev-token` mints a fresh one for
each request that passes the local-only rule (routers/local_only.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from config import Settings
from websocket.access.tokens import DEV_SCOPES, mint_token

DEV_USER = "dev-user"
DEV_EMAIL = "dev@localhost"


@dataclass(frozen=True)
class DevTokenIssuer:
    """Mints development tokens; `keys` are what the validator needs besides JWT_SECRET_KEY."""

    secret: str = field(repr=False)
    ttl: float
    kid: str | None = None
    claims: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> DevTokenIssuer:
        claims = {"aud": settings.jwt_audience, "iss": settings.jwt_issuer}
        claims = {name: value for name, value in claims.items() if value}
        if settings.dev_token_use_jwt_secret and settings.jwt_secret_key is not None:
            return cls(settings.jwt_secret_key.get_secret_value(), settings.dev_token_ttl, None, claims)
        # A fresh key and key id per process: nothing else can sign or accept these tokens.
        return cls(secrets.token_urlsafe(48), settings.dev_token_ttl, f"dev-{secrets.token_hex(8)}", claims)

    @property
    def keys(self) -> dict[str, str]:
        """`kid` -> key, for `TokenValidator(extra_keys=...)`; empty when JWT_SECRET_KEY signs."""
        return {self.kid: self.secret} if self.kid else {}

    @property
    def ephemeral(self) -> bool:
        return self.kid is not None

    def mint(self) -> str:
        headers = {"kid": self.kid} if self.kid else None
        return mint_token(
            self.secret, sub=DEV_USER, email=DEV_EMAIL, scopes=DEV_SCOPES, ttl_seconds=self.ttl,
            extra=self.claims, headers=headers,
        )  # fmt: skip
