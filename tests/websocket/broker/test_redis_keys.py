"""Redis state stays bounded: presence shrinks with use, and every key has a TTL and a documented owner.

Real servers on a real Redis, each test under a key prefix of its own. The
key families are read from OPERATIONS.md's table ("What the server keeps
in Redis"), so a key the code starts writing without documenting it fails here.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support.clients import Client
from tests.support.github import PROJECT_ROOM, fixture, signed_headers
from tests.support.net import eventually
from tests.support.servers import ROOT, ServerProcess, running
from tests.support.tokens import token
from websocket.broker.connection import RedisPublisher
from websocket.presence.in_redis import RedisPresence

OPERATIONS = ROOT / "OPERATIONS.md"
READ = ["projects:read", "agents:read"]
HEARTBEAT = 0.3
# Enough commands per second for a thousand cycles on one connection.
FAST_COMMANDS = {"command_rate": 100_000, "command_burst": 100_000, "command_flood_limit": 100_000}


def documented_families(prefix: str) -> dict[str, re.Pattern[str]]:
    """Key pattern -> regex, from the first column of OPERATIONS.md's Redis key table."""
    text = OPERATIONS.read_text()
    table = text[text.index("### What the server keeps in Redis") :].split("\n### ", 1)[0]
    families = {}
    for pattern in re.findall(r"^\| `(<prefix>:[^`]+)` \|", table, flags=re.MULTILINE):
        regex = re.escape(pattern).replace(re.escape("<prefix>"), re.escape(prefix))
        regex = re.sub(re.escape("<") + r"\w+" + re.escape(">"), ".+", regex)
        families[pattern] = re.compile(regex)
    assert len(families) >= 7, families
    return families


async def key_report(redis: aioredis.Redis, prefix: str) -> dict[str, int]:
    """Every key of the prefix and its TTL in milliseconds (-1: none)."""
    keys = [key.decode() async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.pttl(key)
        ttls = await pipe.execute()
    return {key: ttl for key, ttl in zip(keys, ttls, strict=True) if ttl != -2}


def undocumented_or_immortal(report: dict[str, int], prefix: str) -> list[str]:
    families = documented_families(prefix)
    trouble = []
    for key, ttl in sorted(report.items()):
        if not any(regex.fullmatch(key) for regex in families.values()):
            trouble.append(f"{key}: not in OPERATIONS.md's table")
        elif ttl < 0:
            trouble.append(f"{key}: no TTL")
    return trouble


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def the_instance(redis: aioredis.Redis, prefix: str) -> str:
    [instance] = await redis.zrange(f"{prefix}:presence:instances", 0, -1)
    return str(instance.decode())


async def rooms_of_instance(redis: aioredis.Redis, key: str) -> set[str]:
    """The rooms in an instance's rooms key (a set in the version before this one)."""
    found = await redis.smembers(key) if await redis.type(key) == b"set" else await redis.hkeys(key)
    return {room.decode() for room in found}


async def test_a_thousand_subscribe_cycles_leave_nothing_behind(
    redis_url: str, unique_channel: str, redis: aioredis.Redis
) -> None:
    prefix = unique_channel
    settings = {"redis_url": redis_url, "socketio_channel": prefix, "redis_key_prefix": prefix}
    async with running(ServerProcess(**settings, **FAST_COMMANDS)) as server:
        instance = await the_instance(redis, prefix)
        rooms_key = f"{prefix}:presence:rooms:{instance}"
        client = await Client().connect(server.url, token("cycler", scopes=READ))
        try:
            same_room = f"project:{uuid.uuid4()}"
            rooms = [same_room if n % 2 else f"project:{uuid.uuid4()}" for n in range(1000)]
            for room in rooms:
                assert (await client.call("subscribe", {"room": room}))["status"] == "success"
                assert (await client.call("unsubscribe", {"room": room}))["status"] == "success"
            # Only the rooms the connection is still in: its automatic ones.
            rooms_left = await rooms_of_instance(redis, rooms_key)
            assert rooms_left == {"global", "user:cycler"}, f"{len(rooms_left)} rooms"
            assert await redis.hgetall(rooms_key) == {b"global": b"1", b"user:cycler": b"1"}
            for room in {*rooms}:
                assert not await redis.exists(f"{prefix}:presence:{{{room}}}"), room
            assert (await client.call("presence", {"room": same_room}))["total_connections"] == 0
        finally:
            await client.close()

        async def nothing_left() -> bool:
            presence = [key async for key in redis.scan_iter(match=f"{prefix}:presence:*")]
            return presence == [f"{prefix}:presence:instances".encode()]

        await eventually(nothing_left, timeout=5)


async def test_after_their_work_every_key_has_a_ttl_and_a_documented_family(
    redis_url: str, unique_channel: str, redis: aioredis.Redis
) -> None:
    prefix = unique_channel
    settings = {
        "redis_url": redis_url, "socketio_channel": prefix, "redis_key_prefix": prefix,
        "presence_heartbeat": HEARTBEAT,
    }  # fmt: skip
    a, b = ServerProcess(**settings), ServerProcess(**settings)
    await asyncio.gather(a.start(), b.start())
    agent_id = str(uuid.uuid4())
    watcher = await Client().connect(a.url, token("watcher", scopes=READ))
    try:
        # The day's work: rooms, an agent on the other instance, REST with an idempotency key,
        # a GitHub delivery, presence, a resume.
        await watcher.subscribe(PROJECT_ROOM)
        await watcher.subscribe(f"agent:{agent_id}")
        agent = await Client().connect(b.url, token(agent_id, role="agent", scopes=()))
        await watcher.wait_for("agent.connected")
        async with httpx.AsyncClient(base_url=a.url) as http:
            event = {"type": "project.deleted", "idempotency_key": "nightly-cleanup",
                     "data": {"project_id": PROJECT_ROOM.partition(":")[2], "deleted_by": "ops"}}  # fmt: skip
            published = await http.post(
                "/api/events", json=event, headers={"Authorization": f"Bearer {token('svc', role='service')}"}
            )
            assert published.status_code == 202, published.text
            body = json.dumps(fixture("issues", "opened")).encode()
            delivered = await http.post(
                "/webhooks/github", content=body, headers=signed_headers("issues", body)
            )
            assert delivered.json()["status"] == "broadcast", delivered.text
        await watcher.wait_for("issue.created")
        await watcher.call("presence", {"room": PROJECT_ROOM})
        resumed = await watcher.call("subscribe", {"room": PROJECT_ROOM, "since": {"offset": 0, "epoch": ""}})
        assert resumed["replayed"] == 2

        while_running = await key_report(redis, prefix)
        assert any(":presence:rooms:" in key for key in while_running)
        assert any(":dedupe:event:github-body:" in key for key in while_running)
        assert undocumented_or_immortal(while_running, prefix) == []

        b.signal(signal.SIGKILL)  # no goodbye: a swept instance must leave nothing either
        gone = await watcher.wait_for("agent.disconnected", timeout=10)
        assert gone["data"]["reason"] == "instance_lost"
        await agent.close()
    finally:
        await watcher.close()
        await asyncio.gather(a.stop(), b.stop())

    after = await key_report(redis, prefix)
    assert undocumented_or_immortal(after, prefix) == []
    left = sorted(key.removeprefix(prefix) for key in after if ":presence:" in key)
    assert all(key.startswith(":presence:sweep:") for key in left), left


async def test_presence_keys_are_renewed_while_in_use(
    redis_url: str, unique_channel: str, redis: aioredis.Redis
) -> None:
    """key_ttl 1.2 s: the instance renews its keys every 0.3 s, and deletes them when it stops."""
    publisher = RedisPublisher(redis_url, unique_channel, timeout=2)
    presence = RedisPresence(publisher, unique_channel, "inst-1", heartbeat=0.1, key_ttl=1.2)
    room_key = f"{unique_channel}:presence:{{project:x}}"

    async def agent_gone(agent_id: str, reason: str) -> None:
        return None

    await presence.start(agent_gone)
    try:
        await presence.add("alice", ["project:x"])
        await asyncio.sleep(3)  # two and a half TTLs with no change: only renewals keep the keys
        assert await redis.hgetall(room_key) == {b"inst-1|alice": b"1"}
        report = await key_report(redis, unique_channel)
        assert set(report) == {
            room_key,
            *(f"{unique_channel}:presence:{k}" for k in ("instances", "rooms:inst-1")),
        }
        assert all(0 < ttl <= 1200 for ttl in report.values()), report
    finally:
        await presence.stop()
    assert await key_report(redis, unique_channel) == {}
    await publisher.aclose()


async def test_presence_keys_nobody_owns_any_more_expire(
    redis_url: str, unique_channel: str, redis: aioredis.Redis
) -> None:
    """An instance that wrote its entries and was never heard of again (no heartbeat, no stop)."""
    publisher = RedisPublisher(redis_url, unique_channel, timeout=2)
    presence = RedisPresence(publisher, unique_channel, "inst-2", heartbeat=0.1, key_ttl=1.0)
    await presence.add("bob", ["global", "user:bob"])
    written = await key_report(redis, unique_channel)
    assert len(written) == 3 and all(0 < ttl <= 1000 for ttl in written.values()), written

    async def expired() -> bool:
        return await key_report(redis, unique_channel) == {}

    await eventually(expired, timeout=3)
    await publisher.aclose()
