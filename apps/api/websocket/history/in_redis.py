"""Room history in Redis, shared by every instance and publisher.

Per room, two keys share a hash tag (so a Redis Cluster keeps them together):
a hash with the stream's epoch and last offset, and a Redis Stream of the
recent envelopes whose entry ids are the offsets. One Lua script assigns the
next offset, stores the envelope and publishes it on the room's channel
(`SOCKETIO_CHANNEL:{room}`, same hash tag; SPUBLISH on a cluster, so it stays
in the slot the script runs in), atomically: live delivery happens in offset
order on every instance, and an event is in history exactly when it was
published.

On a cluster the hash also names the node that last wrote it (`n`). A replica
that took over may lack the dead master's last events, and its next offsets
would name other events than the ones clients saw. So the first write by
another node starts a new epoch, keeping the old one (`pe`) and its last
offset there (`f`): a position up to `f` in the old epoch still resumes, any
later one answers `epoch_changed`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio.client import Pipeline

from websocket.history.positions import NO_STREAM, Position, Recovery, StoredEvent, new_epoch, recover
from websocket.protocol.envelope import OutboundEvent

PUBLISH_LUA = """
local meta = redis.call('HMGET', KEYS[1], 'e', 'n')
local epoch = meta[1]
local node = ''
if ARGV[12] == 'SPUBLISH' then
  node = redis.call('CLUSTER', 'MYID')
end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0, 'n', node)
elseif node ~= '' and meta[2] ~= node then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'pe', epoch, 'f', redis.call('HGET', KEYS[1], 'o'), 'n', node)
  epoch = ARGV[1]
end
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local env = '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '",' .. ARGV[2]
if tonumber(ARGV[6]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], offset .. '-0',
             'e', env, 't', ARGV[10], 'k', ARGV[11], 'at', ARGV[9])
  redis.call('PEXPIRE', KEYS[2], ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call(ARGV[12], ARGV[5], ARGV[3] .. env .. ARGV[4])
return offset
"""

READ_LUA = """
local meta = redis.call('HMGET', KEYS[1], 'e', 'o', 'pe', 'f')
local epoch = meta[1]
if not epoch then
  return {'', 0, {}, 0}
end
local offset = tonumber(meta[2])
local since = ARGV[1]
local forked = 0
if meta[3] and since == meta[3] and tonumber(ARGV[2]) <= tonumber(meta[4]) then
  since = epoch
  forked = 1
end
local entries = {}
if (since == epoch or since == '') and tonumber(ARGV[2]) < offset then
  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2] .. '-0', '+')
end
return {epoch, offset, entries, forked}
"""


class ScriptRunner(Protocol):
    """What this store needs of Redis: the broker's bounded publisher (websocket/broker/connection.py).

    `run(build)` awaits `build(pipe)` when it is a coroutine function.
    """

    @property
    def publish_command(self) -> str: ...

    def room_channel(self, room: str) -> str: ...

    async def queue_script(self, pipe: Any, lua: str, keys: list[str], args: list[Any]) -> None: ...

    async def run(self, build: Callable[[Pipeline], Awaitable[object] | object]) -> list[Any]: ...


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHistory:
    def __init__(self, publisher: ScriptRunner, prefix: str, size: int, ttl: float, meta_ttl: float) -> None:
        self.publisher = publisher
        self.prefix = prefix
        self.size = size
        self.ttl = ttl
        self.meta_ttl = meta_ttl

    def keys(self, room: str) -> list[str]:
        base = f"{self.prefix}:history:{{{room}}}"
        return [f"{base}:meta", f"{base}:stream"]

    async def queue_publish(
        self, pipe: Pipeline, event: OutboundEvent, room: str, prefix: bytes, suffix: bytes
    ) -> None:
        """Queue: next offset, store, publish `prefix + envelope + suffix` on the room's channel."""
        args = [
            new_epoch(), event.rest(room), prefix, suffix, self.publisher.room_channel(room), self.size,
            int(self.ttl * 1000), int(self.meta_ttl * 1000), int(time.time() * 1000),
            event.type.value, event.key, self.publisher.publish_command,
        ]  # fmt: skip
        await self.publisher.queue_script(pipe, PUBLISH_LUA, self.keys(room), args)

    async def _read(self, room: str, since: Position | None) -> tuple[Position, list[StoredEvent], bool]:
        epoch_arg, offset_arg = (since.epoch, since.offset) if since else ("-", 2**62)

        async def build(pipe: Pipeline) -> None:
            await self.publisher.queue_script(pipe, READ_LUA, self.keys(room), [epoch_arg, offset_arg])

        [(epoch, offset, entries, forked)] = await self.publisher.run(build)
        if not epoch:
            return NO_STREAM, [], False
        stored = []
        for entry_id, raw_fields in entries:
            fields = dict(zip(raw_fields[::2], raw_fields[1::2], strict=True))
            stored.append(
                StoredEvent(
                    offset=int(_text(entry_id).split("-", 1)[0]),
                    type=_text(fields[b"t"]),
                    key=_text(fields[b"k"]),
                    envelope=fields[b"e"],
                    at=int(fields[b"at"]) / 1000,
                )
            )
        return Position(int(offset), _text(epoch)), stored, bool(forked)

    async def position(self, room: str) -> Position:
        position, _, _ = await self._read(room, None)
        return position

    async def since(self, room: str, since: Position, full: bool = False) -> Recovery:
        position, missed, forked = await self._read(room, since)
        if forked:  # a position up to the fork point is the same in the new epoch
            since = Position(since.offset, position.epoch)
        return recover(position, since, missed, ttl=self.ttl, now=time.time(), full=full)
