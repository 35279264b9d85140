"""Partitioned fan-out: an instance listens to a room's channel only while it has a member there."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.clients import Client
from tests.support.instances import broadcast_from, health
from tests.support.net import eventually
from tests.support.redis import listeners
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from websocket.broker.connection import RedisPublisher
from websocket.broker.subscriber import Subscriber


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


async def test_a_channel_left_and_joined_again_at_once_is_heard(redis_url: str, unique_channel: str) -> None:
    """UNSUBSCRIBE then SUBSCRIBE before Redis answered the first: `add` waits for the second answer."""
    publisher = RedisPublisher(redis_url, unique_channel, 2.0)
    subscriber = Subscriber(publisher, "churn-test", 1.0)
    await subscriber.open()
    channel = publisher.room_channel("churn")
    try:
        for round_ in range(20):
            assert await subscriber.add(channel) is True
            subscriber.discard(channel)
            assert await subscriber.add(channel) is True  # confirmed again, not by the first answer
            await publisher.publish_to(channel, b"%d" % round_)
            batch = await asyncio.wait_for(anext(subscriber.batches()), 5)
            assert batch == [(channel.encode(), b"%d" % round_)]
            subscriber.discard(channel)
        await eventually(lambda: _no_listener(redis_url, channel), timeout=5)
        assert subscriber.count() == 1  # the control channel
    finally:
        await subscriber.close()
        await publisher.aclose()
