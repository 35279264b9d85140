"""Liveness and readiness: `GET /health`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]
    connections: int
    redis: Literal["disabled", "ok", "down"]
    redis_detail: dict[str, Any] | None = None


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(request: Request) -> Health:
    """Always 200 while the process serves: a Redis outage degrades fan-out, not local clients.

    `redis` is "ok" only when this instance can both publish and hear its own
    canary back; `redis_detail` says which half is failing.
    """
    state = request.app.state
    detail = state.backends.health()
    return Health(
        status="ok", connections=len(state.registry), redis=state.redis_state(), redis_detail=detail
    )
