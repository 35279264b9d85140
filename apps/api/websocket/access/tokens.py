"""JWT validation shared by Socket.IO connections and REST routes.

One `TokenValidator` decides whether a token is acceptable; the Socket.IO
connect handler, `auth.refresh` and the REST dependency (routers/auth.py) all
use it, so a token means the same thing on every path. Audience and issuer
are PyJWT's own checks (when configured); the lifetime ceiling is ours.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from websocket.protocol.errors import AuthError, ErrorCode

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "email", "role", "exp")
DEV_SCOPES = ("projects:read", "agents:read", "workflows:read", "events:publish")
DEFAULT_MAX_LIFETIME = 24 * 3600


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user (or agent, or service) behind a token."""

    id: str
    email: str
    role: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    expires_at: float = 0.0
    issued_at: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has_scope(self, *scopes: str) -> bool:
        return any(scope in self.scopes for scope in scopes)


def _parse_scopes(raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return frozenset(raw)
    raise AuthError("Token scopes are malformed", ErrorCode.AUTH_INVALID)


class TokenValidator:
    """Checks signature, algorithm, expiry, audience, issuer, lifetime and the claims the platform needs.

    `extra_keys` maps a header `kid` to its own key (the development token's
    per-process key, see websocket/access/dev_tokens.py); every other token is checked
    against `secret`.
    """

    def __init__(
        self,
        secret: str,
        leeway: float = 0,
        *,
        audience: str | None = None,
        issuer: str | None = None,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
        extra_keys: Mapping[str, str] | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._secret = secret
        self._leeway = leeway
        self._audience = audience or None
        self._issuer = issuer or None
        self.max_lifetime = max_lifetime
        self._extra_keys = dict(extra_keys or {})
        self._required = [*REQUIRED_CLAIMS, *(["aud"] if audience else []), *(["iss"] if issuer else [])]

    def _key_for(self, token: str) -> str:
        if not self._extra_keys:
            return self._secret
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise AuthError("Token is invalid", ErrorCode.AUTH_INVALID) from None
        return self._extra_keys.get(kid, self._secret) if isinstance(kid, str) else self._secret

    def validate(self, token: object) -> Principal:
        if not isinstance(token, str) or not token.strip():
            raise AuthError("Authentication token required", ErrorCode.AUTH_REQUIRED)
        token = token.strip()
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": self._required},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("Token has expired", ErrorCode.AUTH_EXPIRED) from None
        except jwt.MissingRequiredClaimError:
            raise AuthError("Token is missing required claims", ErrorCode.AUTH_INVALID) from None
        except jwt.InvalidAudienceError:
            raise AuthError("Token is not meant for this server (aud)", ErrorCode.AUTH_INVALID) from None
        except jwt.InvalidIssuerError:
            raise AuthError("Token comes from an unknown issuer (iss)", ErrorCode.AUTH_INVALID) from None
        except jwt.InvalidTokenError:
            raise AuthError("Token is invalid", ErrorCode.AUTH_INVALID) from None
        if claims.get("token_type") != "access":
            raise AuthError("Only access tokens are accepted", ErrorCode.AUTH_INVALID)
        sub, email, role = claims["sub"], claims["email"], claims["role"]
        if not all(isinstance(value, str) and value for value in (sub, email, role)):
            raise AuthError("Token is missing required claims", ErrorCode.AUTH_INVALID)
        if len(sub) > 128 or not sub.isprintable() or any(ch.isspace() for ch in sub):
            raise AuthError("Token subject is malformed", ErrorCode.AUTH_INVALID)
        expires_at = float(claims["exp"])
        issued_at = float(iat) if isinstance(iat := claims.get("iat"), int | float) else None
        # Without `iat`, what is left of the token's life must fit under the ceiling.
        if expires_at - (issued_at if issued_at is not None else time.time()) > self.max_lifetime:
            message = f"Token lifetime exceeds the server's maximum ({self.max_lifetime:g} s)"
            raise AuthError(message, ErrorCode.AUTH_INVALID)
        return Principal(
            id=sub,
            email=email,
            role=role,
            scopes=_parse_scopes(claims.get("scopes")),
            expires_at=expires_at,
            issued_at=issued_at,
        )


def mint_token(
    secret: str,
    *,
    sub: str,
    email: str,
    role: str = "user",
    scopes: tuple[str, ...] | list[str] = (),
    ttl_seconds: float = 3600,
    token_type: str = "access",  # noqa: S107 - a claim value, not a secret
    extra: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    """Sign a token the validator accepts: for development, tests and the CLI."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "email": email,
        "role": role,
        "scopes": list(scopes),
        "token_type": token_type,
        "iat": now,
        "exp": now + int(ttl_seconds),
        "jti": secrets.token_hex(8),
        **(extra or {}),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers)
