"""Asserting that something did *not* arrive: wait for a marker published after it, the same way.

A sleep proves nothing: a wrong delivery that is merely slow passes. Instead,
once the event under test has been published (or the decision under test has
been taken), publish a marker by the same path (the same process's
broadcaster, the same instance, the same Redis channel) and wait for it on
every client that must not have received the event. A connection receives
what is published for it in publish order: in one process the broadcaster puts
both on the connection's queue one after the other; across instances both
cross the same Redis channel, which one listener reads in order. So when the
marker is there, the unwanted event would be there too: its absence now
means something.

The marker is `ai.analysis_complete` with `analysis_type: "barrier"`,
addressed to the client's own room `user:<id>` (every connection is in it;
its project room is a fresh one nobody joins); each marker has its own id.
"""

from __future__ import annotations

import uuid

import httpx

from events.broadcaster import get_broadcaster
from tests.support.clients import Client
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from websocket.protocol.payloads import AiAnalysisComplete

MARKER = "ai.analysis_complete"


def _marker(user_id: str, marker: uuid.UUID) -> AiAnalysisComplete:
    return AiAnalysisComplete(
        project_id=uuid.uuid4(), user_id=user_id, analysis_id=marker, analysis_type="barrier", summary="-"
    )


async def mark_in_process(*user_ids: str) -> uuid.UUID:
    """Publish a marker to each user's room through this process's broadcaster; its id."""
    marker = uuid.uuid4()
    for user_id in user_ids:
        assert await get_broadcaster().publish(_marker(user_id, marker))
    return marker


async def mark_from(server: ServerProcess, *user_ids: str) -> uuid.UUID:
    """Make `server` publish a marker to each user's room (POST /api/events, its broadcaster); its id."""
    marker = uuid.uuid4()
    events = [{"type": MARKER, "data": _marker(user, marker).model_dump(mode="json")} for user in user_ids]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/api/events", json=events,
            headers={"Authorization": f"Bearer {token('barrier', role='service', scopes=())}"},
        )  # fmt: skip
    assert response.status_code == 202, response.text
    return marker


async def reached(marker: uuid.UUID, *clients: Client, timeout: float = 5) -> None:
    """Wait until every client has received the marker."""
    for client in clients:
        await client.wait_for(MARKER, lambda e: e["data"]["analysis_id"] == str(marker), timeout)
