from __future__ import annotations

import base64
import hmac
import json
import time

import jwt
import pytest

from tests.support.tokens import SECRET, token
from websocket.access.tokens import TokenValidator, mint_token
from websocket.protocol.errors import AuthError, ErrorCode

validator = TokenValidator(SECRET)


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "u1",
        "email": "u1@example.com",
        "role": "user",
        "token_type": "access",
        "exp": int(time.time()) + 24 * 3600,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def refused(raw: object) -> AuthError:
    return refused_by(validator, raw)


def refused_by(checker: TokenValidator, raw: object) -> AuthError:
    with pytest.raises(AuthError) as info:
        checker.validate(raw)
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


# -- audience, issuer, lifetime (JWT_AUDIENCE, JWT_ISSUER, JWT_MAX_LIFETIME) --
def test_audience_and_issuer_are_checked_when_configured() -> None:
    strict = TokenValidator(SECRET, audience="eventserver", issuer="https://id.example")
    good = token("u1", extra={"aud": "eventserver", "iss": "https://id.example"})
    assert strict.validate(good).id == "u1"
    listed = token("u1", extra={"aud": ["other", "eventserver"], "iss": "https://id.example"})
    assert strict.validate(listed).id == "u1"
    for extra in (
        {"aud": "other", "iss": "https://id.example"},
        {"aud": "eventserver", "iss": "https://evil.example"},
        {"iss": "https://id.example"},
        {"aud": "eventserver"},
    ):
        with pytest.raises(AuthError) as info:
            strict.validate(token("u1", extra=extra))
        assert info.value.code is ErrorCode.AUTH_INVALID, extra


def test_a_token_with_an_audience_needs_a_configured_one() -> None:
    """PyJWT's rule, kept: a token meant for some audience is not taken by a server that names none."""
    assert refused(token("u1", extra={"aud": "eventserver"})).code is ErrorCode.AUTH_INVALID


def test_lifetime_ceiling_counts_from_iat() -> None:
    ten_years = 10 * 365 * 24 * 3600
    assert "lifetime" in refused(token("u1", ttl_seconds=ten_years)).message
    assert refused(token("u1", ttl_seconds=24 * 3600 + 1)).code is ErrorCode.AUTH_INVALID
    assert validator.validate(token("u1", ttl_seconds=24 * 3600)).id == "u1"
    short = TokenValidator(SECRET, max_lifetime=600)
    assert short.validate(token("u1", ttl_seconds=600)).id == "u1"
    with pytest.raises(AuthError, match="lifetime"):
        short.validate(token("u1", ttl_seconds=601))
    # Issued long ago, expiring soon: the lifetime, not what is left of it, counts.
    old = jwt.encode(claims(iat=int(time.time()) - 2 * 24 * 3600, exp=int(time.time()) + 60), SECRET)
    assert refused(old).code is ErrorCode.AUTH_INVALID


def test_without_iat_what_is_left_must_fit() -> None:
    assert validator.validate(jwt.encode(claims(exp=int(time.time()) + 3600), SECRET)).id == "u1"
    far = jwt.encode(claims(exp=int(time.time()) + 25 * 3600), SECRET)
    assert "lifetime" in refused(far).message


def test_extra_keys_are_chosen_by_kid_and_nothing_else() -> None:
    dev_key = "a-key-only-this-process-knows-0123456789"
    both = TokenValidator(SECRET, extra_keys={"dev-1": dev_key})
    dev = mint_token(dev_key, sub="dev-user", email="d@localhost", headers={"kid": "dev-1"})
    assert both.validate(dev).id == "dev-user"
    assert both.validate(token("u1")).id == "u1"  # the configured secret still signs everything else
    assert both.validate(token("u1", headers={"kid": "idp-key-7"})).id == "u1"
    # Signed with the dev key but not naming it, or naming it but signed with the secret: refused.
    with pytest.raises(AuthError):
        both.validate(mint_token(dev_key, sub="dev-user", email="d@localhost"))
    with pytest.raises(AuthError):
        both.validate(token("u1", headers={"kid": "dev-1"}))
    # PyJWT will not sign a kid that is not a string; a hand-made one is refused, not a crash.
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": ["dev-1"]}).encode()).rstrip(b"=")
    _, body, _ = dev.split(".")
    signing_input = header + b"." + body.encode()
    signature = base64.urlsafe_b64encode(hmac.digest(dev_key.encode(), signing_input, "sha256")).rstrip(b"=")
    assert refused_by(both, (signing_input + b"." + signature).decode()).code is ErrorCode.AUTH_INVALID
    # A validator without the key (another instance, production) refuses the dev token.
    assert refused(dev).code is ErrorCode.AUTH_INVALID
