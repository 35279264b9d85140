"""Batches (issue 18): `publish_many` and `POST /api/events` with 100 items reach a real client
in order, numbered like single publishes, deduplicated, and refused whole when an item is wrong."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.clients import Client
from tests.support.servers import LiveServer
from tests.support.tokens import token
from websocket.protocol.payloads import WorkflowProgress

BATCH = 100


async def watching(connect: ClientFactory, workflow_id: uuid.UUID) -> Client:
    client = await connect(token("watcher"))
    await client.subscribe(f"workflow:{workflow_id}")
    return client


def progress(workflow_id: uuid.UUID, step: int) -> WorkflowProgress:
    return WorkflowProgress(workflow_id=workflow_id, progress=step, current_step=f"step {step}")


def assert_in_order_with_consecutive_offsets(events: list[dict[str, Any]], ids: list[str]) -> None:
    assert [e["id"] for e in events] == ids
    assert [e["data"]["current_step"] for e in events] == [f"step {i}" for i in range(len(ids))]
    first = events[0]["offset"]
    assert [e["offset"] for e in events] == list(range(first, first + len(ids)))
    assert len({e["epoch"] for e in events}) == 1


async def test_publish_many_reaches_a_client_in_order(server: LiveServer, connect: ClientFactory) -> None:
    workflow_id = uuid.uuid4()
    client = await watching(connect, workflow_id)
    before = await get_broadcaster().publish_result(progress(workflow_id, 0))
    results = await get_broadcaster().publish_many([progress(workflow_id, i) for i in range(1, BATCH)])
    assert all(r.ok and not r.duplicate for r in results)
    assert [r.rooms for r in results] == [(f"workflow:{workflow_id}",)] * (BATCH - 1)
    events = await client.wait_count("workflow.progress", BATCH)
    assert_in_order_with_consecutive_offsets(events, [before.event_id, *(r.event_id for r in results)])


async def test_publish_many_deduplicates_within_and_across_batches(
    server: LiveServer, connect: ClientFactory
) -> None:
    workflow_id = uuid.uuid4()
    client = await watching(connect, workflow_id)
    tag = uuid.uuid4().hex
    broadcaster = get_broadcaster()
    first = await broadcaster.publish_many(
        [progress(workflow_id, i) for i in range(3)], idempotency_keys=[f"{tag}-a", None, f"{tag}-a"]
    )
    again = await broadcaster.publish_many([progress(workflow_id, 3)], idempotency_keys=[f"{tag}-a"])
    assert [r.duplicate for r in first + again] == [False, False, True, True]
    assert first[2].event_id == again[0].event_id == first[0].event_id
    barrier = await broadcaster.publish_result(progress(workflow_id, 9))
    await client.wait_for("workflow.progress", lambda e: e["id"] == barrier.event_id)
    steps = [e["data"]["current_step"] for e in client.received("workflow.progress")]
    assert steps == ["step 0", "step 1", "step 9"]


async def test_publish_many_refuses_what_is_not_a_payload_model_before_publishing_any(
    server: LiveServer, connect: ClientFactory
) -> None:
    workflow_id = uuid.uuid4()
    client = await watching(connect, workflow_id)
    broadcaster = get_broadcaster()
    unvalidated: Any = {"workflow_id": str(workflow_id), "progress": 1, "current_step": "x"}
    with pytest.raises(TypeError, match=r"payloads\[1\]"):
        await broadcaster.publish_many([progress(workflow_id, 0), unvalidated])
    with pytest.raises(ValueError, match="idempotency keys"):
        await broadcaster.publish_many([progress(workflow_id, 0)], idempotency_keys=[])
    barrier = await broadcaster.publish_result(progress(workflow_id, 9))
    await client.wait_for("workflow.progress", lambda e: e["id"] == barrier.event_id)
    assert len(client.received("workflow.progress")) == 1


def item(workflow_id: uuid.UUID, step: int, **extra: Any) -> dict[str, Any]:
    data = {"workflow_id": str(workflow_id), "progress": min(step, 100), "current_step": f"step {step}"}
    return {"type": "workflow.progress", "data": data, **extra}


async def test_a_batch_of_100_over_http_reaches_a_client_in_order(
    server: LiveServer, connect: ClientFactory
) -> None:
    workflow_id = uuid.uuid4()
    client = await watching(connect, workflow_id)
    service = token(f"batcher-{uuid.uuid4().hex[:8]}", role="service")
    headers = {"Authorization": f"Bearer {service}"}
    key = uuid.uuid4().hex
    batch = [item(workflow_id, i) for i in range(BATCH)]
    batch[10]["idempotency_key"] = key
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/api/events", json=batch, headers=headers)
        assert response.status_code == 202, response.text
        published = response.json()["events"]
        assert len(published) == BATCH and not any(e["duplicate"] for e in published)
        events = await client.wait_count("workflow.progress", BATCH)
        assert_in_order_with_consecutive_offsets(events, [e["id"] for e in published])

        # A repeated key is answered with the first event's id and not broadcast again.
        repeat = await http.post(
            "/api/events", json=[item(workflow_id, 10, idempotency_key=key)], headers=headers
        )
        assert repeat.json()["events"][0] == {**published[10], "duplicate": True}

        # One wrong field refuses the whole batch, saying which item and field.
        bad = [item(workflow_id, i) for i in range(BATCH)]
        bad[57]["data"]["progress"] = "most of it"
        refused = await http.post("/api/events", json=bad, headers=headers)
        assert refused.status_code == 400
        detail = refused.json()["detail"]
        assert detail["code"] == "INVALID_EVENT" and "nothing was published" in detail["message"]
        assert [(e["index"], e["type"], e["field"]) for e in detail["errors"]] == [
            (57, "workflow.progress", "data.progress")
        ]
        barrier = await http.post("/api/events", json=item(workflow_id, 999), headers=headers)
        barrier_id = barrier.json()["events"][0]["id"]
    await client.wait_for("workflow.progress", lambda e: e["id"] == barrier_id)
    assert len(client.received("workflow.progress")) == BATCH + 1
