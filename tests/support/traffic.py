"""REST traffic for tests: an honest publisher renaming a project through `POST /api/events`.

The server handling the request publishes with `get_broadcaster()` in its own
process, as application code does.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.support.servers import ServerProcess
from tests.support.tokens import token


def project_renamed(project: uuid.UUID, name: str) -> dict[str, object]:
    """A `project.updated` event for `POST /api/events`."""
    data = {"project_id": str(project), "project_name": name, "status": "active", "updated_by": "editor"}
    return {"type": "project.updated", "data": {**data, "changes": {"name": name}}}


async def rename(http: httpx.AsyncClient, project: uuid.UUID, name: str, publisher: str = "editor") -> bool:
    """Publish one rename; True when the server accepted and delivered it (202)."""
    response = await http.post(
        "/api/events", json=project_renamed(project, name),
        headers={"Authorization": f"Bearer {token(publisher, role='service', scopes=())}"},
    )  # fmt: skip
    return response.status_code == 202 and bool(response.json()["events"][0]["delivered"])


async def publish_until(
    server: ServerProcess, project: uuid.UUID, stop: asyncio.Event, sent: list[str]
) -> None:
    """Rename `project` over REST 20 times a second until `stop`, appending each name broadcast to `sent`."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        while not stop.is_set():
            name = f"update-{len(sent)}"
            assert await rename(http, project, name)
            sent.append(name)
            await asyncio.sleep(0.05)
