"""Bearer tokens on REST routes: the FastAPI dependency `CurrentUser`.

The same `TokenValidator` as Socket.IO connections (websocket/access/tokens.py)
decides, so a token means the same thing on every path; a refusal is 401 with
`{"detail": {"code", "message"}}` and the same codes, audited as `http_refused`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from websocket import audit
from websocket.access.tokens import Principal, TokenValidator
from websocket.protocol.errors import AuthError

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
        audit.denied(
            "http_refused", exc.code, client_addr=audit.client_of(request),
            path=request.url.path, reason=exc.message,
        )  # fmt: skip
        raise HTTPException(
            status_code=401,
            detail={"code": exc.code.value, "message": exc.message},
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentUser = Annotated[Principal, Depends(current_user)]
