"""JWT validation shared by Socket.IO connections and REST routes.

One `TokenValidator` decides whether a token is acceptable; the Socket.IO
connect handler and the FastAPI dependency `current_user` both use it, so a
token means the same thing on both paths.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from websocket.errors import AuthError, ErrorCode

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "email", "role", "exp")
DEV_SCOPES = ("projects:read", "agents:read", "workflows:read", "events:publish")


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
    """Checks signature, algorithm, expiry and the claims the platform needs."""

    def __init__(self, secret: str, leeway: float = 0) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._secret = secret
        self._leeway = leeway

    def validate(self, token: object) -> Principal:
        if not isinstance(token, str) or not token.strip():
            raise AuthError("Authentication token required", ErrorCode.AUTH_REQUIRED)
        try:
            claims = jwt.decode(
                token.strip(),
                self._secret,
                algorithms=[ALGORITHM],
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("Token has expired", ErrorCode.AUTH_EXPIRED) from None
        except jwt.MissingRequiredClaimError:
            raise AuthError("Token is missing required claims", ErrorCode.AUTH_INVALID) from None
        except jwt.InvalidTokenError:
            raise AuthError("Token is invalid", ErrorCode.AUTH_INVALID) from None
        if claims.get("token_type") != "access":
            raise AuthError("Only access tokens are accepted", ErrorCode.AUTH_INVALID)
        sub, email, role = claims["sub"], claims["email"], claims["role"]
        if not all(isinstance(value, str) and value for value in (sub, email, role)):
            raise AuthError("Token is missing required claims", ErrorCode.AUTH_INVALID)
        if len(sub) > 128 or not sub.isprintable() or any(ch.isspace() for ch in sub):
            raise AuthError("Token subject is malformed", ErrorCode.AUTH_INVALID)
        return Principal(
            id=sub,
            email=email,
            role=role,
            scopes=_parse_scopes(claims.get("scopes")),
            expires_at=float(claims["exp"]),
            issued_at=float(iat) if isinstance(iat := claims.get("iat"), int | float) else None,
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def mint_dev_token(secret: str, ttl_seconds: float = 12 * 3600) -> str:
    return mint_token(
        secret, sub="dev-user", email="dev@localhost", scopes=DEV_SCOPES, ttl_seconds=ttl_seconds
    )


_bearer = HTTPBearer(auto_error=False)


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the principal of the request's bearer token, or 401."""
    validator: TokenValidator = request.app.state.token_validator
    try:
        return validator.validate(credentials.credentials if credentials else None)
    except AuthError as exc:
        raise HTTPException(
            status_code=401,
            detail={"code": exc.code.value, "message": exc.message},
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentUser = Annotated[Principal, Depends(current_user)]
