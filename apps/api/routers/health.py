"""Liveness and readiness: `GET /health`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]
    connections: int
    redis: Literal["disabled", "ok", "down"]


@router.get("/health", response_model=Health)
async def health(request: Request) -> Health:
    state = request.app.state
    return Health(status="ok", connections=len(state.registry), redis=state.redis_state())
