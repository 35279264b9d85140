"""Redis connections that fail in bounded time, and the publisher built on them.

python-socketio's Redis manager retries a failed publish once, logs "giving
up" and returns as if it had worked. Here a publish either reaches Redis
within `timeout` seconds or raises `PublishError`, so callers can say False.

The same URL may name a single Redis or any node of a Redis Cluster: the
first connection asks (`CLUSTER INFO`) and, on a cluster, the publisher uses
redis-py's `RedisCluster` (keys routed by slot, MOVED followed) and sharded
pub/sub (`SPUBLISH`). Channels are named here: the control channel is
`SOCKETIO_CHANNEL`, a room's channel is `SOCKETIO_CHANNEL:{room}`, whose hash
tag puts it in the slot of the room's keys, so the history script can
publish from inside the slot it runs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from logging_setup import get_logger

log = get_logger("websocket.broker")

# Queues commands on a pipeline; a coroutine function when a script is among them.
Builder = Callable[[Any], Awaitable[object] | object]  # a Pipeline or a ClusterPipeline


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


def cluster_client(url: str, timeout: float, name: str) -> RedisCluster:
    """The cluster counterpart of `redis_client`: slots learnt from the node in `url`.

    A failover shows up as connection errors and MOVED replies; redis-py then
    reloads the slot table and tries again, a few times within the bound.
    """
    return RedisCluster.from_url(
        url,
        socket_connect_timeout=timeout / 2,
        socket_timeout=timeout / 2,
        client_name=name,
    )


async def is_cluster(url: str, bound: float, name: str) -> bool:
    """Whether `url` names a node of a Redis Cluster (raises on connection errors)."""
    probe = redis_client(url, bound, name)
    try:
        info = await probe.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    except ResponseError:  # "cluster support disabled": a single Redis
        return False
    finally:
        await close_quietly(probe)
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:" in text


def room_channel(channel: str, room: str) -> str:
    """The channel of one room's events: hash-tagged like the room's keys."""
    return f"{channel}:{{{room}}}"


async def close_quietly(resource: Any, within: float = 1.0) -> None:
    """Close a client or pub/sub object without letting a dead socket block us."""
    if resource is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(resource.aclose(), within)


class RedisPublisher:
    """PUBLISH with a time bound, on a single Redis or a cluster; tracks whether the last attempt worked."""

    def __init__(self, url: str, channel: str, timeout: float, name: str = "eventserver-publisher") -> None:
        self.url = url
        self.channel = channel
        self.timeout = timeout
        self.name = name
        self.healthy = True
        self.cluster: bool | None = None  # known after the first connection
        self._client: aioredis.Redis | RedisCluster | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[tuple[int, str], Any] = {}
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def connect(self) -> aioredis.Redis | RedisCluster:
        """The client of this event loop, built on first use (raises on connection errors)."""
        # A redis.asyncio client belongs to the loop it first ran on; scripts that
        # call asyncio.run() twice get a fresh one instead of a broken one.
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is loop:
            return self._client
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:  # one client, however many callers arrive before it exists
            if self._client is None or self._loop is not loop:
                if self.cluster is None:
                    self.cluster = await is_cluster(self.url, self.timeout, self.name)
                client: aioredis.Redis | RedisCluster
                if self.cluster:
                    client = cluster_client(self.url, self.timeout, self.name)
                    try:
                        await asyncio.wait_for(client.initialize(), self.timeout)
                    except BaseException:
                        await close_quietly(client)
                        raise
                else:
                    client = redis_client(self.url, self.timeout, self.name)
                self._client, self._loop = client, loop
        return self._client

    def client(self) -> Any:
        """The connected client (inside `run`'s build, or after `connect`)."""
        if self._client is None:
            raise PublishError("not connected")
        return self._client

    def room_channel(self, room: str) -> str:
        return room_channel(self.channel, room)

    @property
    def publish_command(self) -> str:
        """PUBLISH on a single Redis; SPUBLISH (sharded, stays in the channel's slot) on a cluster."""
        return "SPUBLISH" if self.cluster else "PUBLISH"

    def queue_publish(self, pipe: Any, channel: str, message: bytes) -> None:
        if self.cluster:
            pipe.spublish(channel, message)
        else:
            pipe.publish(channel, message)

    async def queue_script(self, pipe: Any, lua: str, keys: list[str], args: list[Any]) -> None:
        """Queue a Lua script on `pipe`; run when the pipeline runs.

        On a single Redis, EVALSHA, loaded by the pipeline if Redis lacks it.
        On a cluster, EVAL: redis-py's cluster pipeline cannot load a missing
        script, and a replica promoted by a failover starts with none
        (Redis 7 does not replicate SCRIPT LOAD).
        """
        if self.cluster:
            pipe.eval(lua, len(keys), *keys, *args)
            return
        client = self.client()
        script = self._scripts.get((id(client), lua))
        if script is None:
            script = self._scripts[(id(client), lua)] = client.register_script(lua)
        await script(keys, args, client=pipe)  # queued, not run: the pipeline runs it

    async def publish(self, *messages: bytes) -> None:
        """Publish on the control channel, in order, in one round trip; raise PublishError on failure."""
        await self.publish_to(self.channel, *messages)

    async def publish_to(self, channel: str, *messages: bytes) -> None:
        def build(pipe: Pipeline) -> None:
            for message in messages:
                self.queue_publish(pipe, channel, message)

        await self.run(build)

    async def run(self, build: Builder, each: bool = False) -> list[Any]:
        """Run the commands `build` queues, in order and in one round trip, within the time bound.

        `build` may be a coroutine function: a script queues itself on a
        pipeline with `await script(keys, args, client=pipe)` (redis-py's
        `AsyncScript`, which also has the pipeline load it if Redis lacks it).
        A command Redis refuses raises PublishError, unless `each`: then its
        result is the exception and the others' are theirs (a batch of events
        whose scripts succeed or fail one by one). Connection errors and the
        time bound raise PublishError either way.
        """
        try:
            pipe = (await self.connect()).pipeline(transaction=False)
            queued = build(pipe)
            if inspect.iscoroutine(queued):
                await queued
            execution = pipe.execute(raise_on_error=not each)
            results: list[Any] = await asyncio.wait_for(execution, self.timeout)
        except (RedisError, OSError, TimeoutError, PublishError) as exc:
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
