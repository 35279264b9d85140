"""`GET /metrics` after real traffic: the numbers match what happened."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import socketio

from events.broadcaster import get_broadcaster
from tests.support.clients import Client, ConnectRefused
from tests.support.metrics import scrape, scrape_until, value
from tests.support.servers import LiveServer, running
from tests.support.tokens import token
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.paths import ENGINEIO_PATH

READ_ALL = ("projects:read", "agents:read", "workflows:read")


class RefusingTransport:
    """Accepts nothing: what a broken delivery layer looks like to the broadcaster."""

    name = "refusing"

    async def send(self, event: OutboundEvent, room: str) -> bool:
        return False


@pytest.fixture
async def fresh() -> AsyncIterator[LiveServer]:
    """A server of its own, so every count starts at zero."""
    async with running(LiveServer()) as server:
        get_broadcaster().attach(server.app.state.transport, observer=server.app.state.metrics)
        yield server


async def test_metrics_follow_real_traffic(fresh: LiveServer) -> None:
    before = await scrape(fresh.url)
    assert value(before, "ws_connections") == 0
    assert value(before, "ws_redis_state", state="disabled") == 1
    assert value(before, "ws_redis_state", state="ok") == 0

    alice = await Client().connect(fresh.url, token("alice", scopes=READ_ALL))
    bob = await Client().connect(fresh.url, token("bob", scopes=READ_ALL))
    for bad in (token("eve", secret="another-secret-that-is-long-enough-0123456789"), None, ""):
        with pytest.raises(ConnectRefused):
            await Client().connect(fresh.url, bad)
    stray = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stray.connect(fresh.url, namespaces=["/elsewhere"], socketio_path=ENGINEIO_PATH, wait_timeout=5)

    project_id, workflow_id = uuid.uuid4(), uuid.uuid4()
    await alice.subscribe(f"project:{project_id}")
    await alice.subscribe(f"workflow:{workflow_id}")
    await bob.subscribe(f"project:{project_id}")
    forbidden = await alice.call("subscribe", {"room": "user:bob"})
    assert forbidden["code"] == "FORBIDDEN"

    broadcaster = get_broadcaster()
    for progress in (10, 60):
        assert await broadcaster.broadcast_workflow_progress(
            workflow_id=workflow_id, progress=progress, current_step="build"
        )
    assert await broadcaster.broadcast_project_deleted(project_id=project_id, deleted_by="alice")
    await alice.wait_for("project.deleted")
    broadcaster.attach(RefusingTransport(), observer=fresh.app.state.metrics)
    assert not await broadcaster.broadcast_project_deleted(project_id=project_id, deleted_by="alice")

    during = await scrape(fresh.url)
    assert value(during, "ws_connections") == 2
    assert value(during, "ws_connects_total") == 2
    assert value(during, "ws_connections_refused_total", code="AUTH_INVALID") == 1
    assert value(during, "ws_connections_refused_total", code="AUTH_REQUIRED") == 2
    assert value(during, "ws_connections_refused_total", code="INVALID_NAMESPACE") == 1
    assert value(during, "ws_subscribes_total", kind="project") == 2
    assert value(during, "ws_subscribes_total", kind="workflow") == 1
    assert value(during, "ws_subscriptions") == 3
    assert value(during, "ws_events_broadcast_total", type="workflow.progress", outcome="ok") == 2
    assert value(during, "ws_events_broadcast_total", type="project.deleted", outcome="ok") == 1
    assert value(during, "ws_events_broadcast_total", type="project.deleted", outcome="failed") == 1
    assert value(during, "ws_broadcast_duration_seconds_count") == 4
    assert value(during, "ws_broadcast_duration_seconds_bucket", le="+Inf") == 4
    assert value(during, "process_resident_memory_bytes") > 0

    await alice.close()
    await bob.wait_for("project.deleted")
    await fresh.sio.disconnect(bob.sid, namespace="/ws")
    after = await scrape_until(fresh.url, lambda s: value(s, "ws_connections") == 0)
    assert value(after, "ws_subscriptions") == 0
    assert value(after, "ws_disconnects_total", reason="server_disconnect") == 1
    # The client's goodbye reads "client disconnect" or "transport close", depending on
    # which of its two packets the server handles first.
    by_reason = {
        dict(labels)["reason"]: n for (name, labels), n in after.items() if name == "ws_disconnects_total"
    }
    assert sum(by_reason.values()) == 2, by_reason
    assert set(by_reason) <= {"server_disconnect", "client_disconnect", "transport_close"}, by_reason
    await bob.close()
    await stray.disconnect()


async def test_each_app_counts_only_its_own_traffic(server: LiveServer, fresh: LiveServer) -> None:
    client = await Client().connect(server.url, token("counted-elsewhere"))
    try:
        assert value(await scrape(fresh.url), "ws_connects_total") == 0
        assert value(await scrape(server.url), "ws_connects_total") >= 1
    finally:
        await client.close()
