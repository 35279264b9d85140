"""Background traffic for long tests: an honest REST client changing a project."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.support.servers import ServerProcess
from tests.support.tokens import token


async def publish_until(
    server: ServerProcess, project: uuid.UUID, stop: asyncio.Event, sent: list[str]
) -> None:
    """Rename `project` over REST 20 times a second until `stop`, appending each name broadcast to `sent`."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        while not stop.is_set():
            name = f"update-{len(sent)}"
            response = await http.put(
                f"/api/projects/{project}", json={"name": name},
                headers={"Authorization": f"Bearer {token('editor')}"},
            )  # fmt: skip
            assert response.status_code == 200 and response.json()["broadcast"]
            sent.append(name)
            await asyncio.sleep(0.05)
