"""Partitioned fan-out: an instance listens to a room's channel only while it has a member there."""

from __future__ import annotations

import uuid

import pytest

from tests.support.clients import Client
from tests.support.instances import broadcast_from, health
from tests.support.net import eventually
from tests.support.redis import listeners
from tests.support.servers import ServerProcess
from tests.support.tokens import token


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


READ = ("projects:read",)


async def test_only_instances_with_a_member_listen_to_a_room(
    pair: tuple[ServerProcess, ServerProcess], redis_url: str
) -> None:
    a, b = pair
    channel = a.env["SOCKETIO_CHANNEL"]
    project_id = uuid.uuid4()
    room = f"{channel}:{{project:{project_id}}}"
    on_a = await Client().connect(a.url, token("only-on-a", scopes=READ))
    try:
        assert await listeners(redis_url, room) == 0
        await on_a.subscribe(f"project:{project_id}")
        assert await listeners(redis_url, room) == 1  # A's, confirmed before the ack; B has no member
        assert await listeners(redis_url, f"{channel}:{{user:only-on-a}}") == 1
        assert await listeners(redis_url, channel) == 2  # the control channel: everyone

        assert await broadcast_from(b, project_id) is True  # published by B, which does not listen
        await on_a.wait_for("project.updated")

        await on_a.call("unsubscribe", {"room": f"project:{project_id}"})
        await eventually(lambda: _no_listener(redis_url, room), timeout=5)
    finally:
        await on_a.close()
    await eventually(lambda: _no_listener(redis_url, f"{channel}:{{user:only-on-a}}"), timeout=5)
    detail = (await health(a))["redis_detail"]
    assert detail["channels"] == 1 and detail["unconfirmed_subscriptions"] == 0, detail  # the control channel


async def _no_listener(redis_url: str, channel: str) -> bool:
    return await listeners(redis_url, channel) == 0
