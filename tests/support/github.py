"""GitHub deliveries for the tests: the fixture payloads, signed as GitHub signs them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.tokens import WEBHOOK_SECRET
from webhooks.signature import sign

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "github"
REPOSITORY_URL = "https://github.com/harbor-labs/tidewater"
PROJECT_ID = uuid.uuid5(uuid.NAMESPACE_URL, REPOSITORY_URL)
PROJECT_ROOM = f"project:{PROJECT_ID}"


def fixture(event: str, name: str) -> dict[str, Any]:
    path = FIXTURES / "ping.json" if event == "ping" else FIXTURES / event / f"{name}.json"
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def fixture_names(event: str) -> list[str]:
    return sorted(path.stem for path in (FIXTURES / event).glob("*.json"))


def signed_headers(
    event: str, body: bytes, *, delivery: str | None = None, secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    """The headers GitHub sends with a delivery (User-Agent included)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/7a1f0c2",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "512094738",
        "X-Hub-Signature-256": sign(secret.encode(), body),
    }


async def deliver(
    http: httpx.AsyncClient,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery: str | None = None,
    **header_overrides: str,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(event, body, delivery=delivery) | header_overrides
    return await http.post("/webhooks/github", content=body, headers=headers)
