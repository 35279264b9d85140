"""Redis going away, coming back, and dying silently under a live instance."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from tests.support.clients import Client
from tests.support.instances import broadcast_from, health
from tests.support.net import eventually
from tests.support.redis import RedisServer
from tests.support.servers import ServerProcess, run_module
from tests.support.tcpproxy import FreezableProxy
from tests.support.tokens import token

READ = ("projects:read",)
# What an instance logs at error level when its Redis goes away, as these tests make it do.
LOST = ("redis_subscription_lost", "redis_publish_failed")
TIMEOUT = 1.0  # BROADCAST_TIMEOUT for these instances
FAST = {"broadcast_timeout": TIMEOUT, "redis_canary_interval": 0.2, "ping_interval": 1, "ping_timeout": 2}


@pytest.fixture
async def private_redis() -> AsyncIterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def redis_is(server: ServerProcess, expected: str) -> bool:
    return (await health(server))["redis"] == expected


@pytest.mark.server_errors(*LOST, "event_not_published")
async def test_outage_keeps_serving_and_recovers_by_itself(private_redis: RedisServer) -> None:
    channel = f"outage-{uuid.uuid4().hex[:8]}"
    settings = {"redis_url": private_redis.url, "socketio_channel": channel, **FAST}
    a, b = ServerProcess(**settings), ServerProcess(**settings)
    await asyncio.gather(a.start(), b.start())
    project_id = uuid.uuid4()
    watcher = await Client().connect(a.url, token("watcher", scopes=READ))
    writer_env = {
        "REDIS_URL": private_redis.url,
        "SOCKETIO_CHANNEL": channel,
        "BROADCAST_TIMEOUT": str(TIMEOUT),
    }
    try:
        await watcher.subscribe(f"project:{project_id}")
        private_redis.stop()

        for server in (a, b):
            await eventually(lambda s=server: redis_is(s, "down"), timeout=10)

        started = time.monotonic()
        assert await broadcast_from(b, project_id) is False
        assert time.monotonic() - started < TIMEOUT + 1.5  # bounded, not hanging

        started = time.monotonic()
        status, output = await run_module("examples.worker", str(project_id), env=writer_env)
        assert status == 1, output
        assert "not published" in output
        assert time.monotonic() - started < TIMEOUT + 10  # interpreter start-up included

        # The instance still serves: connect, subscribe, and survive several ping cycles.
        newcomer = await Client().connect(a.url, token("newcomer", scopes=READ))
        await newcomer.wait_for("connection.established")
        await newcomer.subscribe(f"project:{project_id}")
        await asyncio.sleep(3)
        assert newcomer.sio.connected and watcher.sio.connected

        private_redis.start()  # same port
        for server in (a, b):
            await eventually(lambda s=server: redis_is(s, "ok"), timeout=15)
        assert await broadcast_from(b, project_id) is True
        await watcher.wait_for("project.updated")
        await newcomer.wait_for("project.updated")

        status, output = await run_module("examples.worker", str(project_id), env=writer_env)
        assert status == 0, output
        await watcher.wait_count("project.updated", 2)
        await newcomer.close()
    finally:
        await watcher.close()
        await asyncio.gather(a.stop(), b.stop())
    for server in (a, b):
        assert "redis_subscription_lost" in server.log()


@pytest.mark.server_errors(*LOST)
async def test_killed_pubsub_connection_is_resubscribed(private_redis: RedisServer) -> None:
    server = ServerProcess(redis_url=private_redis.url, socketio_channel="kill-test", **FAST)
    await server.start()
    project_id = uuid.uuid4()
    watcher = await Client().connect(server.url, token("watcher", scopes=READ))
    admin = aioredis.Redis.from_url(private_redis.url)
    try:
        await watcher.subscribe(f"project:{project_id}")
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed >= 1
        await eventually(lambda: _resubscribed(server), timeout=10)
        assert await broadcast_from(server, project_id) is True
        await watcher.wait_for("project.updated")
    finally:
        await watcher.close()
        await admin.aclose()
        await server.stop()
    assert "redis_subscription_lost" in server.log()
    assert "redis_subscription_restored" in server.log()


@pytest.mark.server_errors(*LOST, "redis_subscription_deaf")
async def test_silently_dead_subscription_is_noticed_by_the_canary(private_redis: RedisServer) -> None:
    proxy = await FreezableProxy(private_redis.port).start()
    server = ServerProcess(redis_url=proxy.url, socketio_channel="deaf-test", **FAST)
    await server.start()
    project_id = uuid.uuid4()
    watcher = await Client().connect(server.url, token("watcher", scopes=READ))
    try:
        await watcher.subscribe(f"project:{project_id}")
        assert await broadcast_from(server, project_id) is True
        await watcher.wait_for("project.updated")

        assert proxy.freeze() >= 2  # the subscription and the publisher's connection
        await eventually(lambda: "redis_subscription_deaf" in server.log(), timeout=10)
        await eventually(lambda: _resubscribed(server), timeout=10)
        await eventually(lambda: redis_is(server, "ok"), timeout=10)
        assert await broadcast_from(server, project_id) is True
        await watcher.wait_count("project.updated", 2)
    finally:
        await watcher.close()
        await server.stop()
        await proxy.stop()


async def _resubscribed(server: ServerProcess) -> bool:
    body = await health(server)
    detail = body.get("redis_detail")
    return isinstance(detail, dict) and detail["resubscribes"] >= 1 and body["redis"] == "ok"


@pytest.mark.server_errors(*LOST)
async def test_sigterm_during_an_outage_drains_without_the_barrier(private_redis: RedisServer) -> None:
    # The drain waits for its own marker to come back through Redis; with Redis gone
    # there is no marker to wait for. The instance still says goodbye and exits at once,
    # with a warning that names why, not a traceback.
    server = await ServerProcess(redis_url=private_redis.url, socketio_channel="drain-outage", **FAST).start()
    watcher = await Client().connect(server.url, token("watcher", scopes=READ))
    try:
        private_redis.stop()
        await eventually(lambda: redis_is(server, "down"), timeout=10)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert await server.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        elapsed = time.monotonic() - started
        await watcher.wait_for("server.shutdown")
    finally:
        await watcher.close()
    skipped = [r for r in server.records() if r.get("event") == "drain_barrier_skipped"]
    assert len(skipped) == 1 and skipped[0]["level"] == "warning", skipped
    assert "drain_failed" not in server.log()
    assert elapsed < TIMEOUT + 3, elapsed  # the publish bound plus the goodbye, not SHUTDOWN_TIMEOUT
