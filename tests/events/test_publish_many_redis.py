"""Batches through Redis (issue 18): `publish_many` sends a batch in one pipeline, on a single Redis
and on a Redis Cluster; every instance gets it in order, an event Redis refuses fails alone, and a
batch Redis cannot take fails whole and can be sent again."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.clients.test_realtime_client import redis_publisher
from tests.events.test_publish_many import BATCH, assert_in_order_with_consecutive_offsets, item, progress
from tests.support.clients import Client
from tests.support.redis import RedisServer, any_client
from tests.support.servers import ServerProcess
from tests.support.tokens import token


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


async def watcher(server: ServerProcess, name: str, room: str) -> Client:
    client = await Client().connect(server.url, token(name))
    await client.subscribe(room)
    return client


async def test_a_batch_reaches_every_instance_in_order(
    pair: tuple[ServerProcess, ServerProcess], redis_url: str, unique_channel: str
) -> None:
    a, b = pair
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    on_a, on_b = await watcher(a, "batch-on-a", room), await watcher(b, "batch-on-b", room)
    broadcaster = redis_publisher(redis_url, unique_channel)
    try:
        tag = uuid.uuid4().hex
        keys = [None] * BATCH
        keys[3] = keys[7] = tag  # the second is a repeat inside the batch: answered, not sent
        results = await broadcaster.publish_many([progress(workflow_id, i) for i in range(BATCH)],
                                                 idempotency_keys=keys)  # fmt: skip
        assert all(r.ok for r in results) and [i for i, r in enumerate(results) if r.duplicate] == [7]
        assert results[7].event_id == results[3].event_id
        sent = [r.event_id for i, r in enumerate(results) if i != 7]
        for client in (on_a, on_b):
            events = await client.wait_count("workflow.progress", BATCH - 1)
            assert [e["id"] for e in events] == sent
            first = events[0]["offset"]
            assert [e["offset"] for e in events] == list(range(first, first + BATCH - 1))

        # The same through an instance's HTTP API: its broadcaster's transport is Redis too.
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
            response = await http.post(
                "/api/events",
                json=[item(workflow_id, i) for i in range(BATCH)],
                headers={"Authorization": f"Bearer {token('batch-bot', role='service')}"},
            )
        assert response.status_code == 202, response.text
        ids = [e["id"] for e in response.json()["events"]]
        events = (await on_b.wait_count("workflow.progress", 2 * BATCH - 1))[BATCH - 1 :]
        assert_in_order_with_consecutive_offsets(events, ids)
    finally:
        await broadcaster.aclose()
        await on_a.close()
        await on_b.close()


async def test_a_keyed_batch_is_claimed_at_once_and_its_repeat_dropped_on_every_instance(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """The instances' dedupe store is Redis: a batch's keys are claimed in one round trip (claim_many)."""
    a, b = pair
    workflow_id = uuid.uuid4()
    client = await watcher(b, "keyed-batch", f"workflow:{workflow_id}")
    tag = uuid.uuid4().hex
    batch = [item(workflow_id, i, idempotency_key=f"{tag}-{i}") for i in range(BATCH)]
    batch[7]["idempotency_key"] = batch[3]["idempotency_key"]  # a repeat inside the batch
    headers = {"Authorization": f"Bearer {token('keyed-bot', role='service')}"}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            first = (await http.post(f"{a.url}/api/events", json=batch, headers=headers)).json()["events"]
            assert [i for i, e in enumerate(first) if e["duplicate"]] == [7]
            assert first[7]["id"] == first[3]["id"]
            events = await client.wait_count("workflow.progress", BATCH - 1)
            assert [e["id"] for e in events] == [e["id"] for i, e in enumerate(first) if i != 7]
            # The same batch again, through the other instance: every event is a repeat, answered with its id.
            again = (await http.post(f"{b.url}/api/events", json=batch, headers=headers)).json()["events"]
            assert [(e["id"], e["duplicate"]) for e in again] == [(e["id"], True) for e in first]
            barrier = await http.post(f"{a.url}/api/events", json=item(workflow_id, 999), headers=headers)
            barrier_id = barrier.json()["events"][0]["id"]
        await client.wait_for("workflow.progress", lambda e: e["id"] == barrier_id)
        assert len(client.received("workflow.progress")) == BATCH
    finally:
        await client.close()


async def test_an_event_redis_refuses_fails_alone(
    pair: tuple[ServerProcess, ServerProcess], redis_url: str, unique_channel: str
) -> None:
    a, _ = pair
    good, broken = uuid.uuid4(), uuid.uuid4()
    client = await watcher(a, "batch-partial", f"workflow:{good}")
    broadcaster = redis_publisher(redis_url, unique_channel)
    try:
        # The broken room's history record is a string: its script fails with WRONGTYPE.
        async with any_client(redis_url) as redis:
            await redis.set(f"{unique_channel}:history:{{workflow:{broken}}}:meta", "not a hash")
        batch = [progress(good, 0), progress(broken, 1), progress(good, 2)]
        results = await broadcaster.publish_many(batch)
        assert [r.ok for r in results] == [True, False, True]
        events = await client.wait_count("workflow.progress", 2)
        assert [e["id"] for e in events] == [results[0].event_id, results[2].event_id]
        assert events[1]["offset"] == events[0]["offset"] + 1
    finally:
        await broadcaster.aclose()
        await client.close()


async def test_a_batch_redis_cannot_take_fails_whole_and_can_be_sent_again() -> None:
    server = RedisServer().start()
    broadcaster = redis_publisher(server.url, f"test-{uuid.uuid4().hex[:12]}")
    workflow_id = uuid.uuid4()
    keys = [uuid.uuid4().hex for _ in range(3)]  # the write-only publisher's dedupe is its own (memory)
    try:
        first = await broadcaster.publish_many([progress(workflow_id, i) for i in range(3)])
        assert all(r.ok for r in first)
        server.stop()
        down = await broadcaster.publish_many([progress(workflow_id, i) for i in range(3, 6)],
                                              idempotency_keys=keys)  # fmt: skip
        assert [r.ok for r in down] == [False] * 3
        server = RedisServer(server.port).start()
        # Not delivered, so not claimed: the same keys go through once Redis is back.
        again = await broadcaster.publish_many([progress(workflow_id, i) for i in range(3, 6)],
                                               idempotency_keys=keys)  # fmt: skip
        assert [(r.ok, r.duplicate) for r in again] == [(True, False)] * 3
    finally:
        await broadcaster.aclose()
        server.stop()
