"""A Redis Cluster master fails over while events flow: clients keep receiving, resume still works."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

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


@pytest.mark.server_errors("redis_subscription_lost", "redis_publish_failed", "event_not_published")
async def test_a_killed_master_is_replaced_and_resume_answers(
    redis_cluster: RedisClusterServers, unique_channel: str
) -> None:
    project_id = uuid.uuid4()
    while redis_cluster.owner(f"{unique_channel}:{{project:{project_id}}}") == redis_cluster.nodes[0].port:
        project_id = uuid.uuid4()  # the first node is the cluster's URL: kill another
    room = f"project:{project_id}"
    master = redis_cluster.owner(f"{unique_channel}:{{{room}}}")
    replica = redis_cluster.replica_of(master)
    async with two_instances(redis_cluster.url, unique_channel) as (a, b):
        watcher = await Client().connect(a.url, token("killed-master-watcher", scopes=READ))
        try:
            await watcher.subscribe(room)
            assert await broadcast_from(b, project_id) is True
            before = await watcher.wait_for("project.updated")
            # Replication is asynchronous: the replica has the event once its offset reaches it.
            meta = f"{unique_channel}:history:{{{room}}}:meta"
            await eventually(lambda: _replica_offset(redis_cluster, replica, meta) >= before["offset"])

            killed = await asyncio.to_thread(redis_cluster.kill, master)
            await asyncio.to_thread(redis_cluster.promoted, replica)
            # Publishing works again once the slot map has the new master (False until then), and
            # A hears again once it has subscribed on the new master: publish until an event arrives.
            await eventually(lambda: _published_and_heard(b, project_id, watcher), timeout=20)
            for server in (a, b):
                await eventually(lambda s=server: _redis_ok(s), timeout=10)

            resumed = await watcher.call(
                "subscribe", {"room": room, "since": {"offset": before["offset"], "epoch": before["epoch"]}}
            )
            # The replica had the stream: the events after `before` are replayed.
            assert resumed["recovered"] is True and resumed["replayed"] >= 1, resumed
        finally:
            await watcher.close()
    await asyncio.to_thread(redis_cluster.revive, killed)


@pytest.mark.server_errors("redis_subscription_lost", "redis_publish_failed", "event_not_published")
async def test_a_resume_across_a_lossy_failover_is_not_recovered(
    redis_cluster: RedisClusterServers, unique_channel: str
) -> None:
    """The master had events its replica never got, then died: the client's offset means nothing now.

    The replica is stopped (SIGSTOP) and cut off from its master before three more events are
    published, the master is killed, the replica resumes and takes over without them. New events
    then reuse offsets the watcher already saw from the dead master: a resume from its last offset
    must not be `recovered: true` (that would skip the new master's events silently).
    """
    project_id, room = _room_away_from_the_first_node(redis_cluster, unique_channel)
    master = redis_cluster.owner(f"{unique_channel}:{{{room}}}")
    replica = redis_cluster.replica_of(master)
    [replica_node] = [node for node in redis_cluster.nodes if node.port == replica]
    assert replica_node.proc is not None
    meta = f"{unique_channel}:history:{{{room}}}:meta"
    killed = None
    async with two_instances(redis_cluster.url, unique_channel) as (a, b):
        watcher = await Client().connect(a.url, token("lossy-failover-watcher", scopes=READ))
        try:
            await watcher.subscribe(room)
            for _ in range(2):
                assert await broadcast_from(b, project_id) is True
            kept = (await watcher.wait_count("project.updated", 2))[-1]
            await eventually(lambda: _replica_offset(redis_cluster, replica, meta) == kept["offset"])

            replica_node.proc.send_signal(signal.SIGSTOP)  # it cannot reconnect and catch up
            try:
                await asyncio.to_thread(_drop_replicas, redis_cluster, master)
                for _ in range(3):
                    assert await broadcast_from(b, project_id) is True
                lost = (await watcher.wait_count("project.updated", 5))[-1]
                assert lost["offset"] == kept["offset"] + 3, lost
                killed = await asyncio.to_thread(redis_cluster.kill, master)
            finally:
                replica_node.proc.send_signal(signal.SIGCONT)
            await asyncio.to_thread(_take_over, redis_cluster, replica)
            assert _replica_offset(redis_cluster, replica, meta) == kept["offset"]  # the 3 are lost

            # Live delivery resumes on the new master; publish past the watcher's last offset, so
            # that offsets the watcher saw from the dead master now name other events.
            await eventually(lambda: _published_and_heard(b, project_id, watcher), timeout=20)
            while _replica_offset(redis_cluster, replica, meta) <= lost["offset"]:
                assert await broadcast_from(b, project_id) is True
            for server in (a, b):
                await eventually(lambda s=server: _redis_ok(s), timeout=10)

            resumed = await watcher.call(
                "subscribe", {"room": room, "since": {"offset": lost["offset"], "epoch": lost["epoch"]}}
            )
            assert resumed["recovered"] is False, resumed
            assert resumed["reason"] == "epoch_changed", resumed
            assert resumed["position"]["epoch"] != lost["epoch"], resumed

            # A client whose offset the new master does have still recovers the events after it.
            resumed = await watcher.call(
                "subscribe", {"room": room, "since": {"offset": kept["offset"], "epoch": kept["epoch"]}}
            )
            assert resumed["recovered"] is True and resumed["replayed"] >= 1, resumed
        finally:
            await watcher.close()
            if killed is not None:
                await asyncio.to_thread(redis_cluster.revive, killed)


def _room_away_from_the_first_node(cluster: RedisClusterServers, channel: str) -> tuple[uuid.UUID, str]:
    """A room neither owned nor replicated by the first node (its URL is the cluster's)."""
    while True:
        project_id = uuid.uuid4()
        master = cluster.owner(f"{channel}:{{project:{project_id}}}")
        if cluster.nodes[0].port not in (master, cluster.replica_of(master)):
            return project_id, f"project:{project_id}"


def _replica_offset(cluster: RedisClusterServers, port: int, meta: str) -> int:
    """The room's last offset as the node on `port` has it (a replica answers after READONLY)."""
    with cluster.client(port) as conn:
        conn.execute_command("READONLY")
        return int(conn.hget(meta, "o") or 0)


def _drop_replicas(cluster: RedisClusterServers, master: int) -> None:
    with cluster.client(master) as conn:
        conn.execute_command("CLIENT", "KILL", "TYPE", "replica")


def _take_over(cluster: RedisClusterServers, replica: int) -> None:
    """The replica takes its dead master's slots now (it may also win an election on its own)."""
    with cluster.client(replica) as conn:
        if cluster.role(replica) != "master":
            conn.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    cluster.promoted(replica)


async def _published_and_heard(server: ServerProcess, project_id: uuid.UUID, watcher: Client) -> bool:
    heard = len(watcher.received("project.updated"))
    if not await broadcast_from(server, project_id):
        return False
    await asyncio.sleep(0.1)
    return len(watcher.received("project.updated")) > heard


async def _received_after(watcher: Client, sent: list[str], index: int) -> bool:
    later = set(sent[index:])
    return any(event["data"]["project_name"] in later for event in watcher.received("project.updated"))


async def _redis_ok(server: ServerProcess) -> bool:
    body = await health(server)
    return body["redis"] == "ok" and body["redis_detail"]["cluster"] is True
