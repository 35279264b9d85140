"""No missed events: offsets, history, resume after a cut, failover between instances."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from events.broadcaster import EventBroadcaster
from tests.support.clients import Client
from tests.support.instances import health
from tests.support.net import eventually
from tests.support.nginx import nginx
from tests.support.node import NodeClient, NodeFactory
from tests.support.servers import LiveServer, ServerProcess
from tests.support.tcpproxy import FreezableProxy
from tests.support.tokens import token
from websocket.broker.connection import RedisPublisher
from websocket.broker.transport import RedisTransport
from websocket.history.in_redis import RedisHistory
from websocket.protocol.payloads import WorkflowProgress


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

READ = ("workflows:read", "projects:read")


def redis_publisher(redis_url: str, channel: str, prefix: str, history_size: int = 2000) -> EventBroadcaster:
    """The test process as a write-only publisher, exactly as a worker would be."""
    publisher = RedisPublisher(redis_url, channel, timeout=2)
    return EventBroadcaster(
        RedisTransport(publisher, RedisHistory(publisher, prefix, history_size, 600, 3600))
    )


async def publish_steps(
    broadcaster: EventBroadcaster,
    workflow_id: uuid.UUID,
    count: int,
    rate: float,
    during: Callable[[int], Any],
) -> None:
    """`count` workflow.progress events at `rate` per second; `during(i)` runs before event i."""
    for i in range(count):
        await during(i)
        ok = await broadcaster.publish(
            WorkflowProgress(
                workflow_id=workflow_id, progress=i * 100 // count, current_step=f"s{i}", step_number=i
            )
        )
        assert ok, f"publish {i} failed"
        await asyncio.sleep(1 / rate)


def steps(events: list[dict[str, Any]]) -> list[int]:
    return [event["data"]["step_number"] for event in events]


@pytest.fixture
async def memory_server() -> AsyncIterator[LiveServer]:
    server = await LiveServer(history_size=2000).start()
    yield server
    await server.stop()


@pytest.mark.parametrize("replay", ["all", "policy"])
async def test_a_client_cut_off_for_two_seconds_misses_nothing(
    memory_server: LiveServer, node: NodeFactory, replay: str
) -> None:
    """1,000 events; the client's network drops for 2 s in the middle; it reconnects by itself."""
    proxy = await FreezableProxy(memory_server.port).start()
    workflow_id = uuid.uuid4()
    js = await node()
    try:
        reply = await js.connect(
            proxy.http_url + "/ws", auth={"token": token("resumer", scopes=READ)}, path="/ws/socket.io",
            transports=["websocket"], reconnection=True, reconnectionDelay=100, reconnectionDelayMax=300,
            rooms={"replay": replay},
        )  # fmt: skip
        assert reply["ok"], reply
        ack = await js.request("room_subscribe", room=f"workflow:{workflow_id}")
        assert ack["ack"][0]["status"] == "success"

        async def cut_in_the_middle(i: int) -> None:
            if i == 400:
                await proxy.outage(2.0)

        from events.broadcaster import get_broadcaster

        await publish_steps(get_broadcaster(), workflow_id, 1000, rate=250, during=cut_in_the_middle)
        await js.wait_for("workflow.progress", kind="room_event", timeout=20, count=1)
        await eventually(lambda: _last_step(js) == 999, timeout=20)
        received = steps(js.events("workflow.progress", kind="room_event"))
        assert js.of_kind("disconnect"), "the client was never cut off"
        [recovered] = js.of_kind("recovered")
        assert recovered["info"]["replayed"] >= 1
        assert js.of_kind("reset") == []
        if replay == "all":
            assert received == list(range(1000))  # all of them, in order, no duplicates
        else:
            # Only the newest missed progress of the workflow is replayed; nothing repeats, order holds.
            assert received == sorted(set(received)) and received[0] == 0 and received[-1] == 999
            assert recovered["info"]["replayed"] == 1
            assert 1000 - len(received) >= 300  # the missed window was compacted, not lost
    finally:
        await proxy.stop()


def _last_step(js: NodeClient) -> int:
    events = js.events("workflow.progress", kind="room_event")
    return int(events[-1]["data"]["step_number"]) if events else -1


async def test_failover_to_another_instance_resumes_from_redis(
    redis_url: str, unique_channel: str, tmp_path: Path, node: NodeFactory
) -> None:
    settings = {
        "redis_url": redis_url,
        "socketio_channel": unique_channel,
        "redis_key_prefix": unique_channel,
    }
    a, b = ServerProcess(**settings), ServerProcess(**settings)
    await asyncio.gather(a.start(), b.start())
    broadcaster = redis_publisher(redis_url, unique_channel, unique_channel)
    workflow_id = uuid.uuid4()
    try:
        async with nginx([a.port, b.port], tmp_path) as proxy_url:
            js = await node()
            reply = await js.connect(
                proxy_url + "/ws", auth={"token": token("failover", scopes=READ)}, path="/ws/socket.io",
                transports=["websocket"], reconnection=True, reconnectionDelay=100, reconnectionDelayMax=500,
                rooms={"replay": "all"},
            )  # fmt: skip
            assert reply["ok"], reply
            await js.request("room_subscribe", room=f"workflow:{workflow_id}")
            hosting = a if (await health(a))["connections"] == 1 else b
            survivor = b if hosting is a else a

            async def kill_mid_stream(i: int) -> None:
                if i == 200:
                    hosting.signal(signal.SIGKILL)

            await publish_steps(broadcaster, workflow_id, 600, rate=200, during=kill_mid_stream)
            await eventually(lambda: _last_step(js) == 599, timeout=30)
            assert steps(js.events("workflow.progress", kind="room_event")) == list(range(600))
            assert (await health(survivor))["connections"] == 1  # it is now on the other instance
            assert js.of_kind("recovered")
    finally:
        await broadcaster.aclose()
        await asyncio.gather(a.stop(), b.stop())


async def test_resume_reports_what_it_cannot_recover(connect: Callable[..., Awaitable[Client]]) -> None:
    """Epoch changed, history trimmed, history expired: recovered is false, never silent loss."""
    server = await LiveServer(history_size=5, history_ttl=1).start()
    from events.broadcaster import get_broadcaster

    get_broadcaster().attach(server.app.state.transport)
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    try:
        client = await connect(token("r", scopes=READ), url=server.url)
        first = await client.call("subscribe", {"room": room})
        assert first["position"] == {"offset": 0, "epoch": ""}
        for i in range(10):
            await get_broadcaster().broadcast_workflow_progress(
                workflow_id=workflow_id, progress=i, current_step="s"
            )
        live = await client.wait_count("workflow.progress", 10)
        epoch = live[0]["epoch"]
        assert [e["offset"] for e in live] == list(range(1, 11))

        async def resume(since: dict[str, Any]) -> dict[str, Any]:
            ack: dict[str, Any] = await client.call(
                "subscribe", {"room": room, "since": since, "replay": "all"}
            )
            return ack

        assert (await resume({"offset": 7, "epoch": epoch}))["replayed"] == 3  # still in history
        trimmed = await resume({"offset": 2, "epoch": epoch})  # only the last 5 are kept
        assert (trimmed["recovered"], trimmed["reason"]) == (False, "history_expired")
        changed = await resume({"offset": 9, "epoch": "another-epoch"})
        assert (changed["recovered"], changed["reason"]) == (False, "epoch_changed")
        ahead = await resume({"offset": 99, "epoch": epoch})
        assert (ahead["recovered"], ahead["reason"]) == (False, "ahead_of_stream")
        await asyncio.sleep(1.2)  # older than HISTORY_TTL
        expired = await resume({"offset": 9, "epoch": epoch})
        assert (expired["recovered"], expired["reason"]) == (False, "history_expired")
        current = await resume({"offset": 10, "epoch": epoch})  # nothing missed: fine at any age
        assert (current["recovered"], current["replayed"]) == (True, 0)
    finally:
        await server.stop()


async def test_epoch_change_in_redis_is_reported(redis_url: str, unique_channel: str) -> None:
    server = ServerProcess(
        redis_url=redis_url, socketio_channel=unique_channel, redis_key_prefix=unique_channel
    )
    await server.start()
    broadcaster = redis_publisher(redis_url, unique_channel, unique_channel)
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    client = await Client().connect(server.url, token("e", scopes=READ))
    try:
        await client.subscribe(room)
        await broadcaster.broadcast_workflow_progress(workflow_id=workflow_id, progress=1, current_step="s")
        event = await client.wait_for("workflow.progress")
        history = RedisHistory(RedisPublisher(redis_url, unique_channel, 2), unique_channel, 10, 600, 3600)
        await history.publisher.run(lambda pipe: pipe.delete(*history.keys(room)))  # Redis lost the stream
        await history.publisher.aclose()
        await broadcaster.broadcast_workflow_progress(workflow_id=workflow_id, progress=2, current_step="s")
        fresh = await client.wait_for("workflow.progress", lambda e: e["data"]["progress"] == 2)
        assert fresh["epoch"] != event["epoch"] and fresh["offset"] == 1
        ack = await client.call("subscribe", {"room": room, "since": {"offset": 1, "epoch": event["epoch"]}})
        assert (ack["recovered"], ack["reason"]) == (False, "epoch_changed")
        assert ack["position"] == {"offset": 1, "epoch": fresh["epoch"]}
    finally:
        await client.close()
        await broadcaster.aclose()
        await server.stop()


async def test_replay_policy_latest_and_all(
    server: LiveServer, connect: Callable[..., Awaitable[Client]]
) -> None:
    """A client that missed 20 progress events of two workflows and 3 PRs gets 2 progress, 3 PRs."""
    from events.broadcaster import get_broadcaster

    project_id = uuid.uuid4()
    room = f"project:{project_id}"
    observer = await connect(token("o", scopes=READ))
    await observer.subscribe(room)
    broadcaster = get_broadcaster()
    await broadcaster.broadcast_project_deleted(project_id=project_id, deleted_by="x")
    start = (await observer.wait_for("project.deleted"))["offset"]
    workflows = [uuid.uuid4(), uuid.uuid4()]
    for i in range(20):
        await broadcaster.broadcast_workflow_progress(
            workflow_id=workflows[i % 2], project_id=project_id, progress=i * 5, current_step=f"s{i}"
        )
        if i % 7 == 0:
            await broadcaster.broadcast_pr_created(
                pr_id=uuid.uuid4(), project_id=project_id, title=f"PR {i}", author="a", branch="b"
            )
    epoch = (await observer.wait_for("project.deleted"))["epoch"]
    late = await connect(token("late", scopes=READ))
    ack = await late.call("subscribe", {"room": room, "since": {"offset": start, "epoch": epoch}})
    assert ack["recovered"] is True and ack["replayed"] == 5
    replayed = [(name, e) for name, e in late.events if e and isinstance(e, dict) and e.get("replayed")]
    progress = [e["data"]["progress"] for name, e in replayed if name == "workflow.progress"]
    assert progress == [90, 95]  # the newest of each workflow, in offset order
    assert [e["data"]["title"] for name, e in replayed if name == "pr.created"] == ["PR 0", "PR 7", "PR 14"]
    offsets = [e["offset"] for _, e in replayed]
    assert offsets == sorted(offsets)
    everything = await late.call("subscribe", {"room": room, "since": {"offset": start, "epoch": epoch},
                                               "replay": "all"})  # fmt: skip
    assert everything["replayed"] == 23
