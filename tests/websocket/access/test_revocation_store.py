"""Revocations kept in Redis: an instance started later, or deaf for a while, enforces them too.

Issue 12, row 12: revocations lived in each instance's memory, so an instance
started after one (or one whose subscription was down when it was sent) let
the revoked token back in.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from events.broadcaster import get_broadcaster
from tests.support.clients import Client, ConnectRefused
from tests.support.net import eventually
from tests.support.redis import PASSWORD, RedisServer
from tests.support.servers import LiveServer, ServerProcess, run_module, running
from tests.support.tcpproxy import FreezableProxy
from tests.support.tokens import token
from websocket.access.revocation import Revocation
from websocket.broker import revocations as revocation_redis
from websocket.broker.connection import RedisPublisher
from websocket.broker.revocations import RedisRevocations
from websocket.broker.transport import RedisTransport
from websocket.history.in_redis import RedisHistory
from websocket.protocol import jsonlib

READ = ("projects:read",)


@pytest.fixture
def shared(redis_url: str, unique_channel: str) -> dict[str, str]:
    """One deployment on the session's Redis: its own channel and key prefix."""
    return {"redis_url": redis_url, "socketio_channel": unique_channel, "redis_key_prefix": unique_channel}


def publisher_env(shared: dict[str, str]) -> dict[str, str]:
    return {key.upper(): value for key, value in shared.items()}


async def revoke_from_a_publisher(env: dict[str, str], *args: str) -> None:
    """`examples.revocation` in a process that serves no sockets (a write-only publisher)."""
    status, output = await run_module("examples.revocation", *args, env=env)
    assert status == 0 and "not revoked" not in output, output


async def next_second() -> None:
    """JWT `iat` has whole seconds: a token counts as issued after a revocation from the next one."""
    await asyncio.sleep(1.01 - time.time() % 1)


async def assert_enforced(url: str, room: str, old_member: str, old_disabled: str) -> None:
    """Connect, subscribe and auth.refresh with tokens issued before the revocations: all refused."""
    with pytest.raises(ConnectRefused) as refused:
        await Client().connect(url, old_disabled)
    assert refused.value.data["code"] == "ACCESS_REVOKED"
    member = await Client().connect(url, old_member)
    try:
        ack = await member.call("subscribe", {"room": room})
        assert ack["status"] == "error" and ack["code"] == "ACCESS_REVOKED", ack
    finally:
        await member.close()
    await next_second()
    fresh = await Client().connect(url, token("disabled", scopes=READ))  # the issuer decided anew
    try:
        ack = await fresh.call("auth.refresh", {"token": old_disabled})
        assert ack["status"] == "error" and ack["code"] == "ACCESS_REVOKED", ack
        assert (await fresh.call("subscribe", {"room": room}))["status"] == "success"
    finally:
        await fresh.close()


async def test_an_instance_started_after_a_publishers_revocation_enforces_it(shared: dict[str, str]) -> None:
    project = uuid.uuid4()
    old_member, old_disabled = token("member", scopes=READ), token("disabled", scopes=READ)
    env = publisher_env(shared)
    await revoke_from_a_publisher(env, "member", str(project))
    await revoke_from_a_publisher(env, "disabled")
    async with running(ServerProcess(**shared)) as later:
        await assert_enforced(later.url, f"project:{project}", old_member, old_disabled)
        loaded = [r for r in later.records() if r.get("event") == "revocations_loaded"]
        assert loaded and loaded[0]["loaded"] == 2 and loaded[0]["new"] == 2


async def test_an_instance_started_after_a_servers_revocation_enforces_it(shared: dict[str, str]) -> None:
    project = uuid.uuid4()
    old_member, old_disabled = token("member", scopes=READ), token("disabled", scopes=READ)
    async with running(LiveServer(**shared)) as first:
        broadcaster = get_broadcaster()
        broadcaster.attach(first.app.state.transport)
        try:
            assert await broadcaster.revoke_room("member", f"project:{project}")
            assert await broadcaster.disconnect_user("disabled", "Account disabled")
        finally:
            broadcaster.detach()
        async with running(ServerProcess(**shared)) as later:
            await assert_enforced(later.url, f"project:{project}", old_member, old_disabled)


@pytest.mark.server_errors("redis_subscription_lost", "redis_publish_failed")  # the cut
async def test_revocations_sent_while_an_instance_was_deaf_reach_it_when_it_hears_again(
    shared: dict[str, str],
) -> None:
    """Published while the instance's Redis connections were cut: applied once it resubscribes."""
    redis = RedisServer().start()
    proxy = await FreezableProxy(redis.port).start()
    fast = {"broadcast_timeout": 1.0, "redis_canary_interval": 0.2}
    server = ServerProcess(**{**shared, "redis_url": proxy.url, **fast})
    project = uuid.uuid4()
    room = f"project:{project}"
    try:
        await server.start()
        member = await Client().connect(server.url, token("member", scopes=READ))
        disabled = await Client().connect(server.url, token("disabled"))
        await member.subscribe(room)
        await proxy.outage(4)
        await eventually(lambda: "redis_subscription_lost" in server.log(), timeout=5)
        env = {**publisher_env(shared), "REDIS_URL": redis.url}  # straight to Redis, past the cut
        await revoke_from_a_publisher(env, "member", str(project))
        await revoke_from_a_publisher(env, "disabled")
        revoked = await member.wait_for("subscription.revoked", timeout=15)
        assert revoked["data"]["room"] == room
        assert (await disabled.wait_for("connection.error", timeout=5))["data"]["code"] == "ACCESS_REVOKED"
        await eventually(lambda: not disabled.sio.connected)
        assert room not in (await member.call("debug:rooms", {}))["rooms"]
        caught_up = [r for r in server.records() if r.get("event") == "revocations_loaded" and r["new"]]
        assert caught_up and caught_up[-1]["new"] == 2 and caught_up[-1]["connections"] == 2
        await member.close()
        await disabled.close()
    finally:
        await server.stop()
        await proxy.stop()
        redis.stop()


async def test_stored_revocations_are_bounded_and_expire(redis_url: str, unique_channel: str) -> None:
    publisher = RedisPublisher(redis_url, unique_channel, 2.0)
    store = RedisRevocations(publisher, unique_channel, retention=60, max_entries=5)
    history = RedisHistory(publisher, unique_channel, 10, 60, 60)
    transport = RedisTransport(publisher, history, revocations=store)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        stale = Revocation(action="user", user_id="old", reason="x", at=time.time() - 61)
        assert await transport.control(stale.message())
        for n in range(8):
            assert await transport.control(Revocation.of_user(f"user-{n}", "gone").message())
        assert await admin.zcard(store.key) == 5  # capped, oldest first; the stale one pruned
        assert 0 < await admin.pttl(store.key) <= 60_000
        loaded = await store.load()
        assert [r.user_id for r in loaded] == [f"user-{n}" for n in range(3, 8)]
        assert all(r.action == "user" and r.reason == "gone" for r in loaded)
        await admin.zadd(store.key, {"not json": time.time(), '["user"]': time.time()})
        assert len(await store.load()) == 5  # malformed members are skipped (and logged)
    finally:
        await admin.delete(store.key)
        await admin.aclose()
        await publisher.aclose()


async def test_the_documented_acl_user_can_store_and_load_revocations(
    acl_redis: RedisServer,
) -> None:
    url = f"redis://eventserver:{PASSWORD}@127.0.0.1:{acl_redis.port}/0"
    old_disabled = token("disabled")
    await revoke_from_a_publisher({"REDIS_URL": url}, "disabled")
    async with running(ServerProcess(redis_url=url)) as later:
        with pytest.raises(ConnectRefused) as refused:
            await Client().connect(later.url, old_disabled)
        assert refused.value.data["code"] == "ACCESS_REVOKED"
        assert later.trouble() == [] and "NOPERM" not in later.log()


async def test_stored_revocations_are_read_in_pages_without_loss_or_repeat(
    redis_url: str, unique_channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of 2 over 9 members, five of them sharing one score (the cursor's hard case)."""
    monkeypatch.setattr(revocation_redis, "PAGE", 2)
    publisher = RedisPublisher(redis_url, unique_channel, 2.0)
    store = RedisRevocations(publisher, unique_channel, retention=60)
    admin = aioredis.Redis.from_url(redis_url)
    now = time.time()
    scores = [now - 9, now - 8, now - 5, now - 5, now - 5, now - 5, now - 5, now - 1, now]
    members = {jsonlib.dumps(["user", f"u{n}", None, "r"]): at for n, at in enumerate(scores)}
    try:
        await admin.zadd(store.key, members)
        pages = [page async for page in store.pages()]
        assert len(pages) >= 5
        users = sorted(r.user_id for page in pages for r in page)
        assert users == sorted(f"u{n}" for n in range(9))
    finally:
        await admin.delete(store.key)
        await admin.aclose()
        await publisher.aclose()
