"""Idempotency keys on the broadcaster: a repeat is dropped, a failed attempt can be retried."""

from __future__ import annotations

import uuid

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.servers import LiveServer
from tests.support.tokens import token
from websocket.models import ProjectDeleted


async def test_a_repeated_key_reaches_clients_once(server: LiveServer, connect: ClientFactory) -> None:
    project_id = uuid.uuid4()
    watcher = await connect(token("watcher", scopes=["projects:read"]))
    await watcher.subscribe(f"project:{project_id}")
    broadcaster = get_broadcaster()
    key = f"import-{uuid.uuid4()}"
    fields = {"project_id": project_id, "deleted_by": "ops", "idempotency_key": key}
    first = await broadcaster.broadcast_project_deleted(**fields, project_name="first")
    repeat = await broadcaster.broadcast_project_deleted(**fields, project_name="repeat")
    other = await broadcaster.broadcast_project_deleted(
        **{**fields, "idempotency_key": None}, project_name="none"
    )
    assert (first, repeat, other) == (True, True, True)
    await watcher.wait_count("project.deleted", 2)
    assert [e["data"]["project_name"] for e in watcher.received("project.deleted")] == ["first", "none"]


async def test_a_failed_delivery_releases_its_key_for_the_retry(
    server: LiveServer, connect: ClientFactory
) -> None:
    project_id = uuid.uuid4()
    watcher = await connect(token("watcher", scopes=["projects:read"]))
    await watcher.subscribe(f"project:{project_id}")
    broadcaster = get_broadcaster()
    key = f"retry-{uuid.uuid4()}"
    fields = {"project_id": project_id, "deleted_by": "ops", "idempotency_key": key}
    broadcaster.detach()  # as if the server were unreachable
    try:
        lost = await broadcaster.publish_result(
            ProjectDeleted(project_id=project_id, project_name="lost", deleted_by="ops"), idempotency_key=key
        )
    finally:
        broadcaster.attach(server.app.state.transport)
    retried = await broadcaster.broadcast_project_deleted(**fields, project_name="retried")
    assert lost.ok is False and lost.duplicate is False and retried is True
    event = await watcher.wait_for("project.deleted")
    assert event["data"]["project_name"] == "retried"
