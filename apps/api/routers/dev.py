"""Development helpers, mounted only when ENVIRONMENT=development.

Each answers a request made on this machine, directly (routers/local_only.py),
and nothing else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from routers.local_only import request_refusal, require_local
from websocket.access.dev_tokens import DEV_USER, DevTokenIssuer
from websocket.protocol.catalog import PAYLOAD_MODELS, PUBLISHABLE_EVENTS

router = APIRouter(tags=["development"])


@router.get("/ws/dev-token", dependencies=[Depends(require_local)])
async def dev_token(request: Request) -> dict[str, Any]:
    """A fresh development token, valid on this server only, for DEV_TOKEN_TTL seconds."""
    issuer: DevTokenIssuer = request.app.state.dev_tokens
    return {"token": issuer.mint(), "user_id": DEV_USER, "expires_in": issuer.ttl}


@router.get("/ws/dev-token.txt", response_class=PlainTextResponse, dependencies=[Depends(require_local)])
async def dev_token_text(request: Request) -> PlainTextResponse:
    """The same token, bare, one line: `export TOKEN=$(curl -s localhost:8000/ws/dev-token.txt)`."""
    issuer: DevTokenIssuer = request.app.state.dev_tokens
    return PlainTextResponse(issuer.mint() + "\n", headers={"Cache-Control": "no-store"})


@router.get("/ws/dev-token/available")
async def dev_token_available(request: Request) -> dict[str, Any]:
    """Whether `/ws/dev-token` would answer this request (the dashboard shows its button only then).

    A question, not a refusal: answered 200 either way and not audited.
    """
    reason = request_refusal(request)
    return {"available": reason is None, "reason": reason}


def _samples() -> list[dict[str, Any]]:
    """Each publishable type's `example`, and which field of it names each kind of room it reaches."""
    samples = []
    for event_type in PUBLISHABLE_EVENTS:
        payload = PAYLOAD_MODELS[event_type].model_validate(PAYLOAD_MODELS[event_type].example)
        data = payload.model_dump(mode="json")
        routes = {}
        for room in payload.target_rooms():
            kind, _, ident = room.partition(":")
            field = next((name for name, value in data.items() if str(value).lower() == ident), None)
            if field is not None:
                routes[kind] = field
        samples.append({"type": event_type.value, "data": data, "routes": routes})
    return samples


SAMPLES = _samples()


@router.get("/ws/dev/samples", dependencies=[Depends(require_local)])
async def samples() -> dict[str, Any]:
    """Sample events for the dashboard's "Send a test event": `{samples: [{type, data, routes}]}`.

    `routes` maps a room kind to the field that picks the room (`{"workflow": "workflow_id"}`):
    the page sets that field to the id of the room it sends to and publishes through POST /api/events.
    """
    return {"samples": SAMPLES}
