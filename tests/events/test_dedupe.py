"""The dedupe stores: the same behaviour in memory and in a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from events.dedupe import DedupeStore, MemoryDedupeStore, RedisDedupeStore, claim_or_proceed
from tests.support.net import free_port


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, unique_channel: str) -> AsyncIterator[DedupeStore]:
    if request.param == "memory":
        yield MemoryDedupeStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    store = RedisDedupeStore(redis_url, prefix=f"{unique_channel}:")
    yield store
    await store.close()


async def test_first_claim_wins_and_repeats_see_its_value(store: DedupeStore) -> None:
    key = str(uuid.uuid4())
    assert await store.claim(key, "event-1", 60) is None
    assert await store.claim(key, "event-2", 60) == "event-1"
    assert await store.claim(key, "event-3", 60) == "event-1"
    assert await store.claim(str(uuid.uuid4()), "event-4", 60) is None


async def test_a_released_key_can_be_claimed_again(store: DedupeStore) -> None:
    key = str(uuid.uuid4())
    await store.claim(key, "failed", 60)
    await store.release(key)
    assert await store.claim(key, "retry", 60) is None
    assert await store.claim(key, "again", 60) == "retry"


async def test_redis_keys_are_namespaced_and_expire(redis_url: str, unique_channel: str) -> None:
    store = RedisDedupeStore(redis_url, prefix=f"{unique_channel}:dedupe:")
    raw = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await store.claim("delivery-1", "event-1", 600)
        assert await raw.get(f"{unique_channel}:dedupe:delivery-1") == "event-1"
        assert 0 < await raw.pttl(f"{unique_channel}:dedupe:delivery-1") <= 600_000
    finally:
        await store.close()
        await raw.aclose()


async def test_two_stores_on_one_redis_share_their_claims(redis_url: str, unique_channel: str) -> None:
    first = RedisDedupeStore(redis_url, prefix=f"{unique_channel}:")
    second = RedisDedupeStore(redis_url, prefix=f"{unique_channel}:")
    try:
        assert await first.claim("k", "from-first", 60) is None
        assert await second.claim("k", "from-second", 60) == "from-first"
    finally:
        await first.close()
        await second.close()


async def test_memory_claims_expire_after_the_window() -> None:
    now = [1000.0]
    store = MemoryDedupeStore(clock=lambda: now[0])
    await store.claim("k", "v1", 10)
    now[0] += 9.9
    assert await store.claim("k", "v2", 10) == "v1"
    now[0] += 0.2
    assert await store.claim("k", "v3", 10) is None
    assert len(store) == 1


async def test_memory_store_is_bounded() -> None:
    store = MemoryDedupeStore(max_keys=3)
    for n in range(5):
        await store.claim(f"k{n}", "v", 60)
    assert len(store) == 3
    assert await store.claim("k0", "again", 60) is None  # the oldest were evicted
    assert await store.claim("k4", "again", 60) == "v"


async def test_an_unreachable_redis_lets_work_proceed() -> None:
    store = RedisDedupeStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert await claim_or_proceed(store, "k", "v", 60) is None
        assert await claim_or_proceed(store, "k", "v", 60) is None
    finally:
        await store.close()
