"""Live revocation: out of a room, or off the server, on every instance, now."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.barrier import mark_in_process, reached
from tests.support.clients import Client, ConnectRefused
from tests.support.figures import record
from tests.support.instances import broadcast_from
from tests.support.net import eventually
from tests.support.servers import LiveServer, ServerProcess, run_module
from tests.support.tokens import token


@pytest.fixture
def redis_url(any_redis: str) -> str:
    """This module runs on a single Redis and on a Redis Cluster."""
    return any_redis


READ = ("projects:read",)


async def test_revoke_room_takes_the_user_out_and_keeps_them_out(
    server: LiveServer, connect: ClientFactory
) -> None:
    project = uuid.uuid4()
    room = f"project:{project}"
    tabs = [await connect(token("member", scopes=READ)) for _ in range(2)]
    colleague = await connect(token("colleague", scopes=READ))
    for client in (*tabs, colleague):
        await client.subscribe(room)

    assert await get_broadcaster().revoke_room("member", room, reason="Removed from the project")
    for tab in tabs:
        revoked = await tab.wait_for("subscription.revoked")
        assert revoked["data"] == {"room": room, "reason": "Removed from the project"}
        assert room not in (await tab.call("debug:rooms", {}))["rooms"]
        assert tab.sio.connected
    again = await tabs[0].call("subscribe", {"room": room})
    assert again["status"] == "error" and again["code"] == "ACCESS_REVOKED"

    assert await get_broadcaster().broadcast_project_deleted(project_id=project, deleted_by="x")
    await colleague.wait_for("project.deleted")
    await reached(await mark_in_process("member"), *tabs)
    assert all(tab.received("project.deleted") == [] for tab in tabs)

    await asyncio.sleep(1.1)  # JWT iat has whole seconds
    newer = await connect(token("member", scopes=READ))
    assert (await newer.call("subscribe", {"room": room}))["status"] == "success"


async def test_disconnect_user_tells_each_connection_then_closes_it(
    server: LiveServer, connect: ClientFactory
) -> None:
    old_token = token("disabled")
    tabs = [await connect(old_token) for _ in range(2)]
    other = await connect(token("still-here"))
    assert await get_broadcaster().disconnect_user("disabled", reason="Account disabled")
    for tab in tabs:
        error = await tab.wait_for("connection.error")
        assert error["data"] == {"code": "ACCESS_REVOKED", "message": "Account disabled"}
        await eventually(lambda t=tab: not t.sio.connected)
    await eventually(lambda: server.registry.count_of_user("disabled") == 0)
    with pytest.raises(ConnectRefused) as refused:
        await Client().connect(server.url, old_token)
    assert refused.value.data["code"] == "ACCESS_REVOKED"
    assert other.sio.connected


def test_revoking_an_automatic_room_is_refused_at_the_call() -> None:
    with pytest.raises(ValueError, match="disconnect_user"):
        asyncio.run(get_broadcaster().revoke_room("u", "global"))


async def test_revocations_reach_every_instance(
    pair: tuple[ServerProcess, ServerProcess],
    redis_url: str,
    unique_channel: str,
) -> None:
    a, b = pair
    project = uuid.uuid4()
    room = f"project:{project}"
    member = [await Client().connect(s.url, token("member", scopes=READ)) for s in (a, b)]
    colleague = await Client().connect(b.url, token("colleague", scopes=READ))
    disabled = [await Client().connect(s.url, token("disabled")) for s in (a, b)]
    # The pair's key prefix too: the publisher stores revocations where these instances read them.
    env = {"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": unique_channel, "REDIS_KEY_PREFIX": unique_channel}
    try:
        for client in (*member, colleague):
            await client.subscribe(room)

        # From a process that serves no sockets, through Redis.
        status, output = await run_module("examples.revocation", "member", str(project), env=env)
        assert status == 0, output
        for client in member:
            await client.wait_for("subscription.revoked")
            assert room not in (await client.call("debug:rooms", {}))["rooms"]
        assert await broadcast_from(a, project)
        await colleague.wait_for("project.updated")

        status, output = await run_module("examples.revocation", "disabled", env=env)
        assert status == 0, output
        for client in disabled:
            assert (await client.wait_for("connection.error"))["data"]["code"] == "ACCESS_REVOKED"
            await eventually(lambda c=client: not c.sio.connected)
        assert all(client.sio.connected for client in (*member, colleague))
    finally:
        for client in (*member, colleague, *disabled):
            await client.close()

    ages: list[float] = []
    for server in (a, b):
        lines = server.records()
        applied = [line for line in lines if line.get("event") == "revocation_applied"]
        assert [(line["action"], line["connections"]) for line in applied] == [("room", 1), ("user", 1)]
        audit = [line for line in lines if line.get("event") in ("subscription_revoked", "user_disconnected")]
        assert all(line["code"] == "ACCESS_REVOKED" and line["client_addr"] for line in audit)
        ages.extend(line["age_ms"] for line in applied)
    # From the broadcaster call in the other process to its effect on each instance.
    record("revocation", f"applied on both instances {min(ages):.0f} to {max(ages):.0f} ms after the call")
