"""The Redis keys of presence, and the script that keeps an entry and its room's tally in step.

Keys (prefix `p`):
  p:presence:{<room>}        hash  "<instance>|<user>" -> connections
  p:presence:instances       zset  instance -> last heartbeat (ms)
  p:presence:rooms:<inst>    hash  room -> users the instance has entries for there
  p:presence:sweep:<inst>    string (30 s TTL): which live instance sweeps a silent one

An entry leaves its room's hash when its count reaches zero (the script
below), and a room leaves the instance's rooms hash with its last entry there
(written in the same round trip from the instance's own counts, so the rooms
key is exactly as large as the instance's presence). Every command touches
one key or keys of one `{room}`, so presence works on a Redis Cluster. An
instance that stops deletes all of its entries and keys; one that dies is
swept by a live one, or by the next one to start. Should none ever start
again (a deployment removed, REDIS_KEY_PREFIX changed), the keys still go:
each has a TTL (`KEY_TTL`, a day), pushed back by every write, by every
heartbeat (the instances and the instance's rooms key) and, for the
room hashes, by each instance every quarter of it. OPERATIONS.md's table of
Redis keys says the same for every key family of the server.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY_TTL = 24 * 3600.0  # seconds; far beyond any heartbeat, so only abandoned keys ever expire
SWEEP_LOCK_MS = 30_000

# Adjust one (instance, user) entry of a room's hash. It touches that one key, so it runs
# on a Redis Cluster too (the room's keys share the `{room}` tag); the instance's rooms
# key is written beside it by its only writer, the instance (in_redis.py). With
# ARGV[5] == "1" return the hash (an agent's tally: one field per instance).
ADJUST_LUA = """
local field = ARGV[1] .. '|' .. ARGV[2]
local n = redis.call('HINCRBY', KEYS[1], field, ARGV[3])
if n <= 0 then
  redis.call('HDEL', KEYS[1], field)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '1' then return n end
return redis.call('HGETALL', KEYS[1])
"""


@dataclass(frozen=True, slots=True)
class PresenceKeys:
    prefix: str

    def room(self, room: str) -> str:
        return f"{self.prefix}:presence:{{{room}}}"

    @property
    def instances(self) -> str:
        return f"{self.prefix}:presence:instances"

    def rooms_of(self, instance: str) -> str:
        return f"{self.prefix}:presence:rooms:{instance}"

    def sweep_lock(self, instance: str) -> str:
        return f"{self.prefix}:presence:sweep:{instance}"
