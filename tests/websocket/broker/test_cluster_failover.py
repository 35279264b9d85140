"""A Redis Cluster master fails over while events flow: clients keep receiving, resume still works."""

from __future__ import annotations

import asyncio
import uuid

from tests.support.clients import Client
from tests.support.cluster import RedisClusterServers
from tests.support.instances import broadcast_from, health, two_instances
from tests.support.net import eventually
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from tests.support.traffic import publish_until

READ = ("projects:read",)


async def test_clients_keep_receiving_across_a_master_failover(
    redis_cluster: RedisClusterServers, unique_channel: str
) -> None:
    project_id = uuid.uuid4()
    room = f"project:{project_id}"
    master = redis_cluster.owner(f"{unique_channel}:{{{room}}}")  # the room's channel, keys and history
    replica = redis_cluster.replica_of(master)
    async with two_instances(redis_cluster.url, unique_channel) as (a, b):
        watcher = await Client().connect(a.url, token("failover-watcher", scopes=READ))
        try:
            await watcher.subscribe(room)
            assert await broadcast_from(b, project_id) is True
            before = await watcher.wait_for("project.updated")

            stop, sent = asyncio.Event(), []
            publishing = asyncio.create_task(publish_until(b, project_id, stop, sent))
            await watcher.wait_count("project.updated", 3)
            await asyncio.to_thread(redis_cluster.failover, replica)  # the replica now owns the slot
            after_failover = len(sent)
            # Delivered again: an event published after the failover reaches the watcher.
            await eventually(lambda: _received_after(watcher, sent, after_failover), timeout=15)
            stop.set()
            await publishing
            assert redis_cluster.role(replica) == "master"
            for server in (a, b):
                await eventually(lambda s=server: _redis_ok(s), timeout=10)

            resumed = await watcher.call(
                "subscribe", {"room": room, "since": {"offset": before["offset"], "epoch": before["epoch"]}}
            )
            # A manual failover loses nothing: the stream survived on the new master.
            assert resumed["recovered"] is True, resumed
            assert resumed["replayed"] >= 1, resumed
        finally:
            await watcher.close()


async def _received_after(watcher: Client, sent: list[str], index: int) -> bool:
    later = set(sent[index:])
    return any(event["data"]["project_name"] in later for event in watcher.received("project.updated"))


async def _redis_ok(server: ServerProcess) -> bool:
    body = await health(server)
    return body["redis"] == "ok" and body["redis_detail"]["cluster"] is True
