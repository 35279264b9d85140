"""Remembering what was already done, for a while: idempotency keys and webhook deliveries.

Producers retry: Temporal runs an activity again after a failure, GitHub
redelivers a webhook, a service repeats a POST whose answer it never got. A
`DedupeStore` lets the first of those claim a key for a window of time so the
repeats can be recognised and dropped.

Two implementations, chosen by `REDIS_URL` like the rest of the server:

* `MemoryDedupeStore`: one process only, bounded in size.
* `RedisDedupeStore`: `SET key value NX EX window`, so every instance and
  every write-only publisher (a Temporal worker, a script) sees the same keys.

A claim stores a value (the id of the event it produced), so a repeat can
answer with the original id. When the store itself fails (Redis down), callers
go ahead as if the key were new: a duplicate event is better than a lost one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from logging_setup import get_logger

log = get_logger("events.dedupe")

DEFAULT_WINDOW = 600.0
DEFAULT_PREFIX = "eventserver:dedupe:"
# Redis answers in microseconds; a store that takes longer is treated as down.
REDIS_TIMEOUT = 1.0


class DedupeStore(Protocol):
    name: str

    async def claim(self, key: str, value: str, window: float) -> str | None:
        """Claim `key` for `window` seconds: None when claimed now, else the value of the earlier claim."""
        ...

    async def release(self, key: str) -> None:
        """Forget a claim, so a retry of work that failed can claim it again."""
        ...

    async def close(self) -> None: ...


class MemoryDedupeStore:
    """Keys of this process, oldest evicted first beyond `max_keys`."""

    name = "memory"

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def claim(self, key: str, value: str, window: float) -> str | None:
        now = self._clock()
        self._expire(now)
        existing = self._entries.get(key)
        if existing is not None and existing[0] > now:
            return existing[1]
        self._entries[key] = (now + window, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)
        return None

    async def release(self, key: str) -> None:
        self._entries.pop(key, None)

    async def close(self) -> None:
        self._entries.clear()

    def _expire(self, now: float) -> None:
        # Entries are kept in claim order; with one window for all keys that is
        # expiry order too, so expired keys are all at the front.
        while self._entries:
            key, (expires, _) = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]


class RedisDedupeStore:
    """Claims shared by every process that uses the same Redis (or Redis Cluster) and prefix.

    Each claim is one key, so a cluster routes it by its own slot; the client
    comes from the broker's one factory (websocket/broker/connection.py).
    """

    name = "redis"

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        from websocket.broker.connection import RedisPublisher  # only processes configured for Redis load it

        self._redis = RedisPublisher(url, "", REDIS_TIMEOUT, name="eventserver-dedupe")
        self._prefix = prefix

    async def _one(self, command: Callable[[Any], object]) -> Any:
        [result] = await self._redis.run(command)
        return result.decode() if isinstance(result, bytes) else result

    async def claim(self, key: str, value: str, window: float) -> str | None:
        name = self._prefix + key
        milliseconds = max(1, int(window * 1000))
        if await self._one(lambda pipe: pipe.set(name, value, nx=True, px=milliseconds)):
            return None
        existing = await self._one(lambda pipe: pipe.get(name))
        # Expired between the two calls: the key is free again, claim it.
        if existing is None and await self._one(lambda pipe: pipe.set(name, value, nx=True, px=milliseconds)):
            return None
        return str(existing) if existing is not None else value

    async def claim_many(self, claims: Sequence[tuple[str, str]], window: float) -> list[str | None]:
        """`claim` for each (key, value) in order, in one round trip (two when some were claimed before).

        Keys repeated inside `claims` behave as successive claims: the first
        is claimed, the later ones answer with its value.
        """
        milliseconds = max(1, int(window * 1000))
        names = [self._prefix + key for key, _ in claims]

        def claim_all(pipe: Any) -> None:
            for name, (_, value) in zip(names, claims, strict=True):
                pipe.set(name, value, nx=True, px=milliseconds)

        taken = await self._redis.run(claim_all, each=True)
        # A command Redis refused counts as claimed now: the work proceeds, as when the store is down.
        answers: list[str | None] = [None] * len(claims)
        refused = [i for i, result in enumerate(taken) if not result and not isinstance(result, Exception)]
        if refused:

            def read_all(pipe: Any) -> None:
                for i in refused:
                    pipe.get(names[i])

            earlier = await self._redis.run(read_all)
            for i, value in zip(refused, earlier, strict=True):
                if value is None:  # expired between the two round trips: claim it alone
                    answers[i] = await self.claim(claims[i][0], claims[i][1], window)
                else:
                    answers[i] = value.decode() if isinstance(value, bytes) else str(value)
        return answers

    async def release(self, key: str) -> None:
        name = self._prefix + key
        await self._one(lambda pipe: pipe.delete(name))

    async def close(self) -> None:
        await self._redis.aclose()


def create_dedupe_store(redis_url: str | None, key_prefix: str = "eventserver") -> DedupeStore:
    """Redis when a URL is given (shared by all instances), memory otherwise.

    Redis keys live under REDIS_KEY_PREFIX, like every other key of the server.
    """
    return RedisDedupeStore(redis_url, f"{key_prefix}:dedupe:") if redis_url else MemoryDedupeStore()


async def claim_or_proceed(store: DedupeStore, key: str, value: str, window: float) -> str | None:
    """`store.claim`, except that a failing store lets the work proceed (logged)."""
    try:
        return await store.claim(key, value, window)
    except Exception as exc:
        log.warning(
            "dedupe_unavailable", store=store.name, error=f"{type(exc).__name__}: {exc}", action="proceeding"
        )
        return None


async def claim_many_or_proceed(
    store: DedupeStore, claims: Sequence[tuple[str, str]], window: float
) -> list[str | None]:
    """`claim_or_proceed` for each (key, value) in order; at once where the store can (Redis)."""
    claim_many = getattr(store, "claim_many", None)
    if claim_many is None:
        return [await claim_or_proceed(store, key, value, window) for key, value in claims]
    try:
        return list(await claim_many(claims, window))
    except Exception as exc:
        log.warning(
            "dedupe_unavailable", store=store.name, error=f"{type(exc).__name__}: {exc}", action="proceeding"
        )
        return [None] * len(claims)


async def release_quietly(store: DedupeStore, key: str) -> None:
    try:
        await store.release(key)
    except Exception as exc:
        log.warning("dedupe_release_failed", store=store.name, error=f"{type(exc).__name__}: {exc}")
