from __future__ import annotations

import time

import jwt
import pytest

from tests.support.tokens import SECRET, token
from websocket.auth import TokenValidator, mint_token
from websocket.errors import AuthError, ErrorCode

validator = TokenValidator(SECRET)


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "u1",
        "email": "u1@example.com",
        "role": "user",
        "token_type": "access",
        "exp": int(time.time()) + 3600,  # built at collection time: outlive a long run
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def refused(raw: object) -> AuthError:
    with pytest.raises(AuthError) as info:
        validator.validate(raw)
    return info.value


def test_valid_token_gives_principal() -> None:
    user = validator.validate(token("u1", scopes=["projects:read"]))
    assert (user.id, user.email, user.role) == ("u1", "u1@example.com", "user")
    assert user.scopes == frozenset({"projects:read"})
    assert user.expires_at > time.time()


def test_space_separated_scopes() -> None:
    raw = jwt.encode(claims(scopes="projects:read agents:read"), SECRET, algorithm="HS256")
    assert validator.validate(raw).scopes == frozenset({"projects:read", "agents:read"})


def test_scopes_are_optional() -> None:
    raw = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert validator.validate(raw).scopes == frozenset()


@pytest.mark.parametrize("raw", [None, "", "   ", 42, {"token": "x"}])
def test_missing_token_is_auth_required(raw: object) -> None:
    assert refused(raw).code is ErrorCode.AUTH_REQUIRED


def test_expired_token() -> None:
    raw = token("u1", ttl_seconds=-5)
    assert refused(raw).code is ErrorCode.AUTH_EXPIRED


@pytest.mark.parametrize(
    "raw",
    [
        "not-a-jwt",
        jwt.encode(claims(), "another-secret-that-is-long-enough-123456", algorithm="HS256"),
        jwt.encode(claims(), SECRET, algorithm="HS512"),
        jwt.encode(claims(), SECRET, algorithm="HS384"),
        jwt.encode(claims(), None, algorithm="none"),
        jwt.encode(claims(token_type="refresh"), SECRET, algorithm="HS256"),
        jwt.encode(claims(token_type=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(sub=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(email=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(role=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(role=""), SECRET, algorithm="HS256"),
        jwt.encode(claims(sub="has space"), SECRET, algorithm="HS256"),
        jwt.encode(claims(scopes=[1, 2]), SECRET, algorithm="HS256"),
    ],
    ids=[
        "garbage",
        "wrong-secret",
        "hs512",
        "hs384",
        "alg-none",
        "refresh-token",
        "no-token-type",
        "no-exp",
        "no-sub",
        "no-email",
        "no-role",
        "empty-role",
        "sub-with-space",
        "bad-scopes",
    ],
)
def test_invalid_tokens(raw: str) -> None:
    error = refused(raw)
    assert error.code is ErrorCode.AUTH_INVALID
    assert SECRET not in error.message


def test_refresh_token_message_names_the_rule() -> None:
    raw = mint_token(SECRET, sub="u1", email="e", role="user", token_type="refresh")
    assert "access" in refused(raw).message


def test_error_payload_shape() -> None:
    error = refused(None)
    assert error.to_data() == {"code": "AUTH_REQUIRED", "message": error.message, "retryable": False}
    assert error.to_ack()["status"] == "error"


def test_validator_requires_secret() -> None:
    with pytest.raises(ValueError):
        TokenValidator("")
