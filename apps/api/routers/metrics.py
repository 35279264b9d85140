"""`GET /metrics`: this instance's Prometheus metrics (see observability/metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from observability.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
