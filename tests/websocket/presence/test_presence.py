"""Presence of a room across instances, and agents coming and going by themselves."""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.support.barrier import mark_from, mark_in_process, reached
from tests.support.clients import Client
from tests.support.instances import two_instances
from tests.support.net import eventually
from tests.support.servers import LiveServer, ServerProcess
from tests.support.tokens import token
from websocket.protocol.paths import NAMESPACE


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


READ = ("projects:read", "agents:read")
HEARTBEAT = 0.3  # an instance is gone after 3 missed heartbeats (0.9 s)


def users(ack: dict[str, Any]) -> dict[str, int]:
    return {entry["user_id"]: entry["connections"] for entry in ack["users"]}


async def test_presence_on_one_instance(connect: Callable[..., Awaitable[Client]]) -> None:
    room = f"project:{uuid.uuid4()}"
    alice_1 = await connect(token("alice", scopes=READ))
    alice_2 = await connect(token("alice", scopes=READ))
    bob = await connect(token("bob", scopes=READ))
    for client in (alice_1, alice_2, bob):
        await client.subscribe(room)
    ack = await bob.call("presence", {"room": room})
    assert users(ack) == {"alice": 2, "bob": 1}
    assert (ack["total_users"], ack["total_connections"]) == (2, 3)
    await alice_2.call("unsubscribe", {"room": room})
    await alice_1.close()
    assert users(await bob.call("presence", {"room": room})) == {"bob": 1}
    outsider = await connect(token("outsider", scopes=()))
    denied = await outsider.call("presence", {"room": room})
    assert denied["code"] == "FORBIDDEN"


async def test_global_presence_gives_totals_to_users_and_the_list_to_admins(
    connect: Callable[..., Awaitable[Client]],
) -> None:
    """Everyone is in `global`: its member list would be every connected user id."""
    tag = uuid.uuid4().hex[:8]
    alice = await connect(token(f"alice-{tag}", scopes=()))
    await connect(token(f"alice-{tag}", scopes=()))
    bob = await connect(token(f"bob-{tag}", scopes=()))
    admin = await connect(token(f"admin-{tag}", role="admin", scopes=()))

    for asker in (alice, bob):
        ack = await asker.call("presence", {"room": "global"})
        assert ack["status"] == "success" and ack["room"] == "global"
        assert "users" not in ack, ack
        assert ack["total_users"] >= 3 and ack["total_connections"] >= 4
        assert f"alice-{tag}" not in str(ack)

    listed = await admin.call("presence", {"room": "global"})
    assert {f"alice-{tag}": 2, f"bob-{tag}": 1, f"admin-{tag}": 1}.items() <= users(listed).items()
    assert listed["total_users"] == len(listed["users"]) == len(users(listed))
    # Other rooms keep listing their members to whoever may join them.
    own = await bob.call("presence", {"room": f"user:bob-{tag}"})
    assert users(own) == {f"bob-{tag}": 1}


async def test_agent_lifecycle_on_one_instance(
    server: LiveServer, connect: Callable[..., Awaitable[Client]]
) -> None:
    agent_id = str(uuid.uuid4())
    watcher = await connect(token("watcher", scopes=READ))
    await watcher.subscribe(f"agent:{agent_id}")
    first = await connect(token(agent_id, role="agent", scopes=()))
    second = await connect(token(agent_id, role="agent", scopes=()))
    connected = await watcher.wait_for("agent.connected")
    assert connected["data"]["agent_id"] == agent_id
    first_sid = first.sid
    await first.close()
    # python-socketio forgets a sid's rooms once its disconnect handler (which decides whether
    # the agent is gone, and announces it) has returned; a marker published after that follows
    # any agent.disconnected to the watcher.
    await eventually(lambda: not server.sio.rooms(first_sid, namespace=NAMESPACE))
    await reached(await mark_in_process("watcher"), watcher)
    assert watcher.received("agent.disconnected") == []  # one connection is still open
    await second.close()
    gone = await watcher.wait_for("agent.disconnected")
    assert gone["data"]["agent_id"] == agent_id
    assert len(watcher.received("agent.connected")) == 1


@pytest.fixture
async def pair(redis_url: str, unique_channel: str) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """conftest's pair, with heartbeats quick enough to notice a lost instance within a test,
    and `websocket_disconnect` at INFO (`disconnect_handled` reads it)."""
    async with two_instances(
        redis_url, unique_channel, presence_heartbeat=HEARTBEAT, log_connections="true"
    ) as servers:
        yield servers


def disconnect_handled(server: ServerProcess, sid: str | None) -> bool:
    """`websocket_disconnect` is logged after the handler decided whether an agent is gone."""
    records = server.records()
    return any(r.get("event") == "websocket_disconnect" and r.get("connection_id") == sid for r in records)


async def test_presence_across_instances_and_a_crash(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    room = f"project:{uuid.uuid4()}"
    agent_id = str(uuid.uuid4())
    on_a = [await Client().connect(a.url, token(f"user-{i}", scopes=READ)) for i in range(2)]
    on_b = [await Client().connect(b.url, token("user-0", scopes=READ)),
            await Client().connect(b.url, token("user-9", scopes=READ))]  # fmt: skip
    watcher = on_a[0]
    try:
        for client in (*on_a, *on_b):
            await client.subscribe(room)
        await watcher.subscribe(f"agent:{agent_id}")
        agent_on_b = await Client().connect(b.url, token(agent_id, role="agent", scopes=()))
        on_b.append(agent_on_b)
        await watcher.wait_for("agent.connected")

        seen_from_a = await watcher.call("presence", {"room": room})
        seen_from_b = await on_b[0].call("presence", {"room": room})
        assert users(seen_from_a) == users(seen_from_b) == {"user-0": 2, "user-1": 1, "user-9": 1}

        b.signal(signal.SIGKILL)  # no goodbye: its entries must expire by themselves

        async def b_is_forgotten() -> bool:
            return users(await watcher.call("presence", {"room": room})) == {"user-0": 1, "user-1": 1}

        await eventually(b_is_forgotten, timeout=5)
        gone = await watcher.wait_for("agent.disconnected", timeout=10)
        assert gone["data"] == {"agent_id": agent_id, "reason": "instance_lost"}
        assert "presence_instance_swept" in a.log()
    finally:
        for client in (*on_a, *on_b):
            await client.close()


async def test_agent_counts_across_instances(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    agent_id = str(uuid.uuid4())
    watcher = await Client().connect(a.url, token("watcher", scopes=READ))
    agents: list[Client] = []
    try:
        await watcher.subscribe(f"agent:{agent_id}")
        agents.append(await Client().connect(a.url, token(agent_id, role="agent", scopes=())))
        await watcher.wait_for("agent.connected")
        # b decided "not the first" (and published nothing) before it answered this connect.
        agents.append(await Client().connect(b.url, token(agent_id, role="agent", scopes=())))
        first_sid = agents[0].sid
        await agents[0].close()  # still connected on b
        await eventually(lambda: disconnect_handled(a, first_sid))
        # From a, after both decisions: a stray agent.connected or agent.disconnected would be first.
        await reached(await mark_from(a, "watcher"), watcher)
        assert len(watcher.received("agent.connected")) == 1
        assert watcher.received("agent.disconnected") == []
        await agents[1].close()  # the last one, on another instance than the first
        gone = await watcher.wait_for("agent.disconnected")
        assert gone["data"]["agent_id"] == agent_id
    finally:
        for client in (watcher, *agents):
            await client.close()
