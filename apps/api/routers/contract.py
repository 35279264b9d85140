"""The machine-readable wire contract: AsyncAPI 3.0 and JSON Schema (see contract/)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from contract import asyncapi, jsonschemas

router = APIRouter(tags=["contract"])


@router.get("/ws/asyncapi.json")
async def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the WebSocket API."""
    return asyncapi.document()


@router.get("/ws/schema.json")
async def json_schema() -> dict[str, Any]:
    """JSON Schema of every event, command and acknowledgement."""
    return jsonschemas.document()
