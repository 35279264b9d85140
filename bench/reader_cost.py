"""CPU per message of reading the Redis pub/sub channel: redis-py's reader against ours.

`python bench/reader_cost.py [--messages N]` starts a private redis-server, a
publisher process that PUBLISHes N copies of a typical event message (the
`emit` frame of a `project.updated`, ~0.5 KB) as fast as Redis takes them,
and in this process reads them back twice (one reader at a time):

* redis-py: `PubSub.get_message()` in a loop, as the server did before issue
  15 (websocket/broker/redis_manager.py at bf6eacf), and
* ours: `Subscriber.batches()` (websocket/broker/subscriber.py, resp.py),

each followed by the same decoding (`jsonlib.loads` and `messages.validate`).
It prints the reader's CPU time (process time, this process only) per message.

It then measures what a channel per `user:<id>` room costs (issue 15's choice
against hashed shard channels): `--subscriptions` distinct channels added
through `Subscriber.add` 100 at a time (a connect storm), each confirmed by
Redis, then all discarded: wall and CPU time per channel, and Redis's
`used_memory` per subscribed channel. Benchmarks, not tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    _root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_root), str(_root / "apps" / "api")]

import argparse
import asyncio
import json
import subprocess
import time

import redis.asyncio as aioredis

from bench.redis_server import RedisServer
from websocket.broker.connection import RedisPublisher
from websocket.broker.messages import validate
from websocket.broker.subscriber import Subscriber
from websocket.protocol import jsonlib

CHANNEL = "reader-bench"
ENVELOPE = {
    "offset": 1, "epoch": "e1b2c3", "id": "0192f0aa-1111-4222-8333-944455556666", "type": "project.updated",
    "timestamp": "2026-11-30T03:00:00Z", "room": "project:0192f0aa-1111-4222-8333-944455556666",
    "data": {"project_id": "0192f0aa-1111-4222-8333-944455556666", "project_name": "Tidewater",
             "status": "active", "updated_by": "editor", "changes": {"name": "Tidewater"}},
}  # fmt: skip
MESSAGE = json.dumps({
    "method": "emit", "event": "project.updated", "data": [ENVELOPE], "binary": False, "namespace": "/ws",
    "room": ENVELOPE["room"], "skip_sid": None, "callback": None, "host_id": "broadcaster-bench",
}).encode()  # fmt: skip

PUBLISHER = """
import sys, redis
r = redis.Redis.from_url(sys.argv[1])
channel, message, n = sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
for start in range(0, n, 500):
    pipe = r.pipeline(transaction=False)
    for _ in range(min(500, n - start)):
        pipe.publish(channel, message)
    pipe.execute()
"""


def publish(url: str, n: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", PUBLISHER, url, CHANNEL, MESSAGE.decode(), str(n)])


def decode(data: bytes) -> None:
    message = jsonlib.loads(data)
    assert validate(message) is None


async def redis_py(url: str, n: int) -> float:
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    await pubsub.get_message(timeout=0.1)
    proc = publish(url, n)
    got, cpu = 0, 0.0
    while got < n:
        raw = await pubsub.get_message(timeout=1.0)
        if got == 0 and raw is not None:
            cpu = time.process_time()
        if raw is None or raw.get("type") != "message":
            continue
        decode(raw["data"])
        got += 1
    used = time.process_time() - cpu
    proc.wait()
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    await client.aclose()
    return used / (n - 1) * 1e6


async def ours(url: str, n: int) -> float:
    publisher = RedisPublisher(url, CHANNEL, 2.0)
    subscriber = Subscriber(publisher, "reader-bench", 5.0)
    await subscriber.open()
    proc = publish(url, n)
    got, cpu = 0, 0.0
    async for batch in subscriber.batches():
        if got == 0:
            cpu = time.process_time()
        for _channel, data in batch:
            decode(data)
        got += len(batch)
        if got >= n:
            break
    used = time.process_time() - cpu
    proc.wait()
    await subscriber.close()
    await publisher.aclose()
    return used / (n - 1) * 1e6


async def subscriptions(url: str, n: int) -> None:
    publisher = RedisPublisher(url, CHANNEL, 5.0)
    subscriber = Subscriber(publisher, "subscription-bench", 5.0)
    await subscriber.open()
    admin = aioredis.Redis.from_url(url)
    memory = int((await admin.info("memory"))["used_memory"])
    channels = [f"{CHANNEL}:{{user:{i:08d}}}" for i in range(n)]
    wall, cpu = time.monotonic(), time.process_time()
    for start in range(0, n, 100):
        confirmed = await asyncio.gather(*(subscriber.add(c) for c in channels[start : start + 100]))
        assert all(confirmed)
    added_wall, added_cpu = time.monotonic() - wall, time.process_time() - cpu
    per_channel = (int((await admin.info("memory"))["used_memory"]) - memory) / n
    [(_, listening)] = await admin.pubsub_numsub(channels[-1])
    wall, cpu = time.monotonic(), time.process_time()
    for channel in channels:
        subscriber.discard(channel)
    while int((await admin.pubsub_numsub(channels[-1]))[0][1]):
        await asyncio.sleep(0.001)
    gone_wall, gone_cpu = time.monotonic() - wall, time.process_time() - cpu
    print(f"subscriptions: {n:,} channels, 100 joins at a time, each confirmed (last one heard: {listening})")
    print(f"  subscribe:   {added_wall / n * 1e6:.1f} µs wall, {added_cpu / n * 1e6:.1f} µs CPU per channel")
    print(f"  unsubscribe: {gone_wall / n * 1e6:.1f} µs wall, {gone_cpu / n * 1e6:.1f} µs CPU per channel")
    print(f"  Redis memory: {per_channel:.0f} bytes per subscribed channel")
    await admin.aclose()
    await subscriber.close()
    await publisher.aclose()


async def main(n: int, channels: int) -> None:
    redis = RedisServer().start()
    try:
        before = await redis_py(redis.url, n)
        after = await ours(redis.url, n)
        await subscriptions(redis.url, channels)
    finally:
        redis.stop()
    print(f"messages: {n:,} of {len(MESSAGE)} bytes")
    print(f"redis-py PubSub.get_message + decode: {before:.1f} µs CPU per message")
    print(
        f"ours Subscriber.batches + decode:     {after:.1f} µs CPU per message ({before / after:.1f}× less)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.subscriptions))
