"""Presence shared through Redis, with entries that outlive no crashed instance.

The keys, and how each is kept bounded, are in `websocket.presence.keys`.
An instance heartbeats every `heartbeat` seconds; one silent for three
heartbeats counts as gone: readers ignore its entries at once, and the first
live instance to notice sweeps them away (announcing `agent.disconnected` for
agents that were connected only there). An instance that finds itself
unknown on a heartbeat (Redis restarted, or it was swept after a long pause)
writes its counts again from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from redis.asyncio.client import Pipeline

from logging_setup import get_logger
from websocket.broker.connection import PublishError, RedisPublisher
from websocket.presence.counts import AGENT_ONLINE, AgentGone, LocalCounts
from websocket.presence.keys import ADJUST_LUA, KEY_TTL, SWEEP_LOCK_MS, PresenceKeys

log = get_logger("websocket.presence.in_redis")

MISSED_HEARTBEATS = 3


class RedisPresence:
    def __init__(
        self,
        publisher: RedisPublisher,
        prefix: str,
        instance: str,
        heartbeat: float,
        key_ttl: float = KEY_TTL,
    ) -> None:
        self.publisher = publisher
        self.keys = PresenceKeys(prefix)
        self.instance = instance
        self.heartbeat = heartbeat
        self.key_ttl_ms = int(key_ttl * 1000)
        self._renew_at = 0.0  # monotonic time of the next TTL renewal of the room hashes
        self.local = LocalCounts()
        self._dirty = True  # write everything on the first heartbeat
        self._task: asyncio.Task[None] | None = None
        self._on_agent_gone: AgentGone | None = None

    def _alive_after_ms(self) -> int:
        return int((time.time() - self.heartbeat * MISSED_HEARTBEATS) * 1000)

    async def _adjust(self, pipe: Pipeline, room: str, user_id: str, delta: int, total: bool = False) -> None:
        args: list[str | int] = [self.instance, user_id, delta, self.key_ttl_ms, int(total)]
        await self.publisher.queue_script(pipe, ADJUST_LUA, [self.keys.room(room)], args)

    def _track(self, pipe: Pipeline, crossed: Iterable[str]) -> None:
        """Keep the instance's rooms key in step with its entries (`crossed`: where one came or went)."""
        mine = self.keys.rooms_of(self.instance)
        for room in crossed:
            users = len(self.local.rooms.get(room, ()))
            if users:
                pipe.hset(mine, room, users)
            else:
                pipe.hdel(mine, room)
        pipe.pexpire(mine, self.key_ttl_ms)

    # -- the Presence interface ---------------------------------------------
    async def _write(self, user_id: str, rooms: list[str], delta: int, crossed: list[str]) -> None:
        async def build(pipe: Pipeline) -> None:
            for room in rooms:
                await self._adjust(pipe, room, user_id, delta)
            self._track(pipe, crossed)

        try:
            await self.publisher.run(build)
        except PublishError:
            self._dirty = True  # rewritten from memory once Redis answers again

    async def add(self, user_id: str, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        await self._write(user_id, rooms, +1, self.local.change(user_id, rooms, +1))

    async def remove(self, user_id: str, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        await self._write(user_id, rooms, -1, self.local.change(user_id, rooms, -1))

    async def _agent(self, agent_id: str, delta: int) -> bool:
        key = AGENT_ONLINE + agent_id
        changed = self.local.change(agent_id, [key], delta)

        async def build(pipe: Pipeline) -> None:
            pipe.zrangebyscore(self.keys.instances, self._alive_after_ms(), "+inf")
            await self._adjust(pipe, key, agent_id, delta, total=True)
            self._track(pipe, changed)

        try:
            alive, entries, *_ = await self.publisher.run(build)
        except PublishError:
            self._dirty = True
            return bool(changed)  # the best this instance can tell alone
        live = {inst.decode() for inst in alive} | {self.instance}
        total = sum(
            int(count) for field, count in _pairs(entries) if field.decode().partition("|")[0] in live
        )
        return total == (1 if delta > 0 else 0) and bool(changed)

    async def agent_online(self, agent_id: str) -> bool:
        return await self._agent(agent_id, +1)

    async def agent_offline(self, agent_id: str) -> bool:
        return await self._agent(agent_id, -1)

    async def members(self, room: str) -> dict[str, int]:
        def build(pipe: Pipeline) -> None:
            pipe.hgetall(self.keys.room(room))
            pipe.zrangebyscore(self.keys.instances, self._alive_after_ms(), "+inf")

        try:
            entries, alive = await self.publisher.run(build)
        except PublishError:
            return self.local.of(room)  # degraded: this instance's own view
        live = {inst.decode() for inst in alive}
        entries = dict(_pairs(entries))
        users: Counter[str] = Counter()
        for field, count in entries.items():
            instance, _, user = field.decode().partition("|")
            if instance in live and int(count) > 0:
                users[user] += int(count)
        return dict(users)

    # -- heartbeat, resync, sweep --------------------------------------------
    async def start(self, on_agent_gone: AgentGone) -> None:
        self._on_agent_gone = on_agent_gone
        with contextlib.suppress(PublishError):
            await self._beat()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(PublishError):
            await self._erase(self.instance)
            await self.publisher.run(lambda pipe: pipe.zrem(self.keys.instances, self.instance))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._beat()
                await self._sweep()
            except PublishError:
                self._dirty = True
            except Exception:
                log.exception("presence_heartbeat_failed")

    async def _beat(self) -> None:
        now_ms = int(time.time() * 1000)

        def build(pipe: Pipeline) -> None:
            pipe.zadd(self.keys.instances, {self.instance: now_ms})
            pipe.pexpire(self.keys.instances, self.key_ttl_ms)
            pipe.pexpire(self.keys.rooms_of(self.instance), self.key_ttl_ms)

        [added, *_] = await self.publisher.run(build)
        if added or self._dirty:
            await self._resync()
        elif time.monotonic() >= self._renew_at:
            await self._renew(list(self.local.rooms))

    async def _renew(self, rooms: list[str]) -> None:
        """Push back the TTL of the room hashes this instance has entries in."""
        await self.publisher.run(
            lambda pipe: [pipe.pexpire(self.keys.room(r), self.key_ttl_ms) for r in rooms]
        )
        self._renew_at = time.monotonic() + self.key_ttl_ms / 4000

    async def _resync(self) -> None:
        """Replace this instance's entries with its in-memory counts."""
        await self._erase(self.instance)
        snapshot = {room: dict(counts) for room, counts in self.local.rooms.items()}

        def build(pipe: Pipeline) -> None:
            for room, counts in snapshot.items():
                pipe.hset(
                    self.keys.room(room), mapping={f"{self.instance}|{u}": n for u, n in counts.items()}
                )
                pipe.hset(self.keys.rooms_of(self.instance), room, len(counts))
            pipe.pexpire(self.keys.rooms_of(self.instance), self.key_ttl_ms)

        if snapshot:
            await self.publisher.run(build)
            await self._renew(list(snapshot))
        self._dirty = False
        log.info("presence_resynced", rooms=len(snapshot))

    async def _erase(self, instance: str) -> list[str]:
        """Delete every entry of `instance`; return the rooms it had entries in."""
        key = self.keys.rooms_of(instance)
        [kind] = await self.publisher.run(lambda pipe: pipe.type(key))
        # A set before the rooms key counted entries: an instance of that version may still be swept.
        [rooms] = await self.publisher.run(
            lambda pipe: pipe.smembers(key) if kind == b"set" else pipe.hkeys(key)
        )
        names = sorted(room.decode() for room in rooms)
        fields = await self.publisher.run(lambda pipe: [pipe.hkeys(self.keys.room(r)) for r in names])

        def build(pipe: Pipeline) -> None:
            for room, keys in zip(names, fields, strict=True):
                mine = [k for k in keys if k.decode().startswith(instance + "|")]
                if mine:
                    pipe.hdel(self.keys.room(room), *mine)
            pipe.delete(self.keys.rooms_of(instance))

        await self.publisher.run(build)
        return names

    async def _claim(self, instance: str) -> bool:
        """Whether this instance gets to sweep `instance` (one sweeper at a time)."""
        lock = self.keys.sweep_lock(instance)
        [won] = await self.publisher.run(
            lambda pipe: pipe.set(lock, self.instance, nx=True, px=SWEEP_LOCK_MS)
        )
        return bool(won)

    async def _sweep(self) -> None:
        """Remove the entries of instances that stopped heartbeating."""
        cutoff = f"({self._alive_after_ms()}"
        [dead] = await self.publisher.run(
            lambda pipe: pipe.zrangebyscore(self.keys.instances, "-inf", cutoff)
        )
        for instance in [raw.decode() for raw in dead]:
            if await self._claim(instance):
                await self._forget(instance)

    async def _forget(self, instance: str) -> None:
        rooms = await self._erase(instance)
        await self.publisher.run(lambda pipe: pipe.zrem(self.keys.instances, instance))
        log.warning("presence_instance_swept", instance=instance, rooms=len(rooms))
        for room in rooms:
            if room.startswith(AGENT_ONLINE) and not await self.members(room) and self._on_agent_gone:
                await self._on_agent_gone(room.removeprefix(AGENT_ONLINE), "instance_lost")


def _pairs(entries: Any) -> list[tuple[bytes, bytes]]:
    """HGETALL's answer as pairs, whether redis-py made it a dict (a command) or left it flat (a script)."""
    if isinstance(entries, dict):
        return list(entries.items())
    return list(zip(entries[::2], entries[1::2], strict=True))
