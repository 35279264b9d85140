"""Several instances and write-only publishers joined through a real Redis."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support.barrier import mark_from, reached
from tests.support.clients import Client
from tests.support.instances import broadcast_from, health
from tests.support.net import eventually
from tests.support.redis import publish_raw
from tests.support.servers import ServerProcess, run_module
from tests.support.tokens import token


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


READ = ("projects:read",)


async def test_a_string_cut_inside_an_emoji_crosses_instances_unchanged(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """A lone surrogate (see jsonlib) survives Redis, the other instance's decoding and history."""
    a, b = pair
    project_id, cut = uuid.uuid4(), "Tidewater \ud83d"
    on_a = await Client().connect(a.url, token("cut-on-a", scopes=READ))
    try:
        await on_a.subscribe(f"project:{project_id}")
        event = {"type": "project.deleted", "data": {"project_id": str(project_id), "project_name": cut,
                                                     "deleted_by": "ops"}}  # fmt: skip
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
            response = await http.post(
                "/api/events", content=json.dumps(event), headers={
                    "Authorization": f"Bearer {token('deploy-bot', role='service')}",
                    "Content-Type": "application/json"},
            )  # fmt: skip
        assert response.status_code == 202, response.text
        delivered = await on_a.wait_for("project.deleted")
        assert delivered["data"]["project_name"] == cut
        history = await on_a.call("subscribe", {"room": f"project:{project_id}", "since": {
            "offset": delivered["offset"] - 1, "epoch": delivered["epoch"]}})  # fmt: skip
        assert history["recovered"] is True and history["replayed"] == 1, history
        replayed = await on_a.wait_count("project.deleted", 2)
        assert replayed[-1]["data"]["project_name"] == cut
    finally:
        await on_a.close()


async def test_broadcast_on_one_instance_reaches_subscribers_on_all(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    project_id = uuid.uuid4()
    on_a = await Client().connect(a.url, token("on-a", scopes=READ))
    on_b = await Client().connect(b.url, token("on-b", scopes=READ))
    bystander = await Client().connect(a.url, token("bystander", scopes=READ))
    try:
        await on_a.subscribe(f"project:{project_id}")
        await on_b.subscribe(f"project:{project_id}")
        assert await broadcast_from(b, project_id) is True
        from_b_on_a = await on_a.wait_for("project.updated")
        from_b_on_b = await on_b.wait_for("project.updated")
        assert from_b_on_a["id"] == from_b_on_b["id"]
        assert from_b_on_a["data"]["project_id"] == str(project_id)

        assert await broadcast_from(a, project_id) is True
        await on_b.wait_count("project.updated", 2)
        await on_a.wait_count("project.updated", 2)
        # Through a's broadcaster and the channel after both updates: a repeat or a stray one would be first.
        await reached(await mark_from(a, "bystander", "on-a"), bystander, on_a)
        assert bystander.received("project.updated") == []
        assert len(on_a.received("project.updated")) == 2  # exactly once each
    finally:
        for client in (on_a, on_b, bystander):
            await client.close()


async def test_write_only_process_reaches_every_instance(
    pair: tuple[ServerProcess, ServerProcess], redis_url: str, unique_channel: str
) -> None:
    a, b = pair
    project_id = uuid.uuid4()
    clients = [await Client().connect(s.url, token(f"w-{i}", scopes=READ)) for i, s in enumerate((a, b))]
    bystander = await Client().connect(b.url, token("w-bystander", scopes=READ))
    try:
        for client in clients:
            await client.subscribe(f"project:{project_id}")
        # A production worker has no JWT secret: publishing must not ask for one.
        status, output = await run_module(
            "examples.worker", str(project_id),
            env={"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": unique_channel, "ENVIRONMENT": "production",
                 "JWT_SECRET_KEY": ""},
        )  # fmt: skip
        assert status == 0, output
        assert "published" in output
        for client in clients:
            event = await client.wait_for("project.updated")
            assert event["data"]["updated_by"] == "worker:nightly-import"
        # The worker has published and exited; b's marker crosses the same channel after its event.
        await reached(await mark_from(b, "w-bystander"), bystander)
        assert bystander.received("project.updated") == []
    finally:
        for client in (*clients, bystander):
            await client.close()


async def test_malformed_and_foreign_messages_are_dropped(
    pair: tuple[ServerProcess, ServerProcess], redis_url: str, unique_channel: str
) -> None:
    a, b = pair
    project_id = uuid.uuid4()
    client = await Client().connect(a.url, token("m-1", scopes=READ))
    garbage: list[bytes | str] = [
        b"\xff\xfe not json",
        "[]",
        '"just a string with method in it"',
        "42",
        '{"method": "emit"}',
        '{"method": "emit", "host_id": "x", "event": 5, "data": [], "room": null}',
        '{"method": "emit", "host_id": "x", "event": "project.updated", "data": "nope"}',
        '{"method": "emit", "host_id": "x", "event": "e", "data": [], "room": {"a": 1}}',
        '{"method": "disconnect", "host_id": "x", "sid": 12}',
        '{"method": "enter_room", "host_id": "x", "sid": "s", "room": ["a"]}',
        '{"method": "shutdown_everything", "host_id": "x"}',
        '{"method": "callback", "host_id": "x", "sid": "s", "id": "1", "args": []}',
        "{" * 10_000,
    ]
    try:
        await client.subscribe(f"project:{project_id}")
        await publish_raw(redis_url, unique_channel, *garbage)
        assert await broadcast_from(b, project_id) is True
        await client.wait_for("project.updated")
        for server in (a, b):
            await eventually(lambda s=server: health(s), timeout=5)
            detail = (await health(server))["redis_detail"]
            assert isinstance(detail, dict) and detail["dropped_messages"] >= len(garbage), detail
            assert (await health(server))["redis"] == "ok"
    finally:
        await client.close()
    for server in (a, b):
        assert "pubsub_message_dropped" in server.log()


async def test_health_reports_redis_ok(pair: tuple[ServerProcess, ServerProcess]) -> None:
    for server in pair:
        body = await health(server)
        assert body["redis"] == "ok", body
        detail = body["redis_detail"]
        assert isinstance(detail, dict) and detail["subscription"] == "ok" and detail["publish"] == "ok"
