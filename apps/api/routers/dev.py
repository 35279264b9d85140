"""Development helpers, mounted only when ENVIRONMENT=development.

Each answers a request made on this machine, directly (routers/local_only.py),
and nothing else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from routers.local_only import request_refusal, require_local
from websocket.access.dev_tokens import DEV_USER, DevTokenIssuer

router = APIRouter(tags=["development"])


@router.get("/ws/dev-token", dependencies=[Depends(require_local)])
async def dev_token(request: Request) -> dict[str, Any]:
    """A fresh development token, valid on this server only, for DEV_TOKEN_TTL seconds."""
    issuer: DevTokenIssuer = request.app.state.dev_tokens
    return {"token": issuer.mint(), "user_id": DEV_USER, "expires_in": issuer.ttl}


@router.get("/ws/dev-token/available")
async def dev_token_available(request: Request) -> dict[str, Any]:
    """Whether `/ws/dev-token` would answer this request (the dashboard shows its button only then).

    A question, not a refusal: answered 200 either way and not audited.
    """
    reason = request_refusal(request)
    return {"available": reason is None, "reason": reason}
