"""Idempotency keys on the broadcaster: a repeat is dropped, a failed attempt can be retried."""

from __future__ import annotations

import uuid

from events.broadcaster import EventBroadcaster, get_broadcaster
from events.dedupe import MemoryDedupeStore
from tests.conftest import ClientFactory
from tests.support.servers import LiveServer
from tests.support.tokens import token
from websocket.protocol.payloads import ProjectDeleted


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


async def test_keys_claimed_together_are_given_back_when_one_was_taken(server: LiveServer) -> None:
    """A repeat found on a later key releases the keys claimed before it, so none is held for nothing."""
    store = MemoryDedupeStore()
    broadcaster = EventBroadcaster(transport=server.app.state.transport, dedupe=store)
    project_id = uuid.uuid4()
    first = await broadcaster.publish_result(
        ProjectDeleted(project_id=project_id, deleted_by="ops"), idempotency_key="b", also_once_per=["c"]
    )
    repeat = await broadcaster.publish_result(
        ProjectDeleted(project_id=project_id, deleted_by="ops"), idempotency_key="a", also_once_per=["c"]
    )
    assert first.ok and not first.duplicate
    assert repeat.duplicate and repeat.event_id == first.event_id
    assert await store.claim("event:a", "probe", 60) is None  # "a" was given back
    assert await store.claim("event:b", "probe", 60) == first.event_id
