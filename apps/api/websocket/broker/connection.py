"""Redis connections that fail in bounded time, and the publisher built on them.

python-socketio's Redis manager retries a failed publish once, logs "giving
up" and returns as if it had worked. Here a publish either reaches Redis
within `timeout` seconds or raises `PublishError`, so callers can say False.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from logging_setup import get_logger

log = get_logger("websocket.broker")

# Queues commands on a pipeline; a coroutine function when a script is among them.
Builder = Callable[[Pipeline], Awaitable[object] | object]


class PublishError(Exception):
    """A message could not be handed to Redis in time."""


def redis_client(url: str, timeout: float, name: str) -> aioredis.Redis:
    """A client whose commands give up within `timeout` seconds.

    Each socket operation may take half of it, leaving room for one immediate
    retry on a fresh connection: that covers the stale pooled connection after
    a Redis restart or a dead network path. Anything longer is the caller's
    business.
    """
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=timeout / 2,
        socket_timeout=timeout / 2,
        retry=Retry(NoBackoff(), 1),
        client_name=name,
    )


async def close_quietly(resource: Any, within: float = 1.0) -> None:
    """Close a client or pub/sub object without letting a dead socket block us."""
    if resource is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(resource.aclose(), within)


class RedisPublisher:
    """PUBLISH on one channel with a time bound; tracks whether the last attempt worked."""

    def __init__(self, url: str, channel: str, timeout: float, name: str = "eventserver-publisher") -> None:
        self.url = url
        self.channel = channel
        self.timeout = timeout
        self.name = name
        self.healthy = True
        self._client: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> aioredis.Redis:
        # A redis.asyncio client belongs to the loop it first ran on; scripts that
        # call asyncio.run() twice get a fresh one instead of a broken one.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = redis_client(self.url, self.timeout, self.name)
            self._loop = loop
        return self._client

    async def publish(self, *messages: bytes) -> None:
        """Publish messages in order, in one round trip; raise PublishError on failure."""

        def build(pipe: Pipeline) -> None:
            for message in messages:
                pipe.publish(self.channel, message)

        await self.run(build)

    async def run(self, build: Builder) -> list[Any]:
        """Run the commands `build` queues, in order and in one round trip, within the time bound.

        `build` may be a coroutine function: a script queues itself on a
        pipeline with `await script(keys, args, client=pipe)` (redis-py's
        `AsyncScript`, which also has the pipeline load it if Redis lacks it).
        """
        try:
            pipe = self.client().pipeline(transaction=False)
            queued = build(pipe)
            if inspect.iscoroutine(queued):
                await queued
            results: list[Any] = await asyncio.wait_for(pipe.execute(), self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            if self.healthy:
                log.error("redis_publish_failed", channel=self.channel, error=f"{type(exc).__name__}: {exc}")
            self.healthy = False
            raise PublishError(f"{type(exc).__name__}: {exc}") from None
        if not self.healthy:
            log.info("redis_publish_recovered", channel=self.channel)
        self.healthy = True
        return results

    async def aclose(self) -> None:
        client, self._client = self._client, None
        await close_quietly(client)
