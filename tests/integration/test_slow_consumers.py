"""Slow consumers are cut, not buffered (issue 12, row 1).

A peer that stops reading (raw WebSocket with a small receive buffer, or a
long-polling client that stops polling), and answers pings blindly so the
heartbeat never ends it, is closed once `MAX_QUEUED_BYTES` wait for it:
counted, audited, its queue freed, its TCP connection gone although it never
reads again; an honest client on the same server gets every event, in order.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from structlog.testing import capture_logs

from events.broadcaster import get_broadcaster
from tests.integration.test_metrics import scrape, value
from tests.support.clients import Client
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.servers import LiveServer, running
from tests.support.stalled import StalledPoller, StalledWebSocket, subscribe_packet
from tests.support.tokens import token
from websocket.models import WorkflowProgress
from websocket.server import NAMESPACE

PAD = "x" * 10_000  # ~10 KB per event: the 1 MiB ceiling and the kernel's buffers fill in a few hundred
MAX_EVENTS = 3000  # ~30 MB: far past any buffer; without the ceiling the peer is never cut
FAST = {"ping_interval": 1, "ping_timeout": 1}  # the blind pongs, not the heartbeat, keep the peers alive


@pytest.fixture
def room() -> str:
    return f"workflow:{uuid.uuid4()}"


async def stream_until_cut(server: LiveServer, room: str, user: str) -> int:
    """Broadcast padded events to `room` until `user` has no connection left; how many were sent."""
    workflow_id = room.partition(":")[2]
    for n in range(MAX_EVENTS):
        if not server.registry.of_user(user):
            return n
        step = WorkflowProgress(workflow_id=workflow_id, progress=n % 101, current_step=str(n), message=PAD)
        assert await get_broadcaster().publish(step)
        if n % 10 == 9:
            await asyncio.sleep(0.005)  # let the server write, and the peer's pongs in
    raise AssertionError(f"{user} still connected after {MAX_EVENTS} events (~{MAX_EVENTS * 10} KB)")


async def assert_all_in_order(client: Client, count: int) -> None:
    events = await client.wait_count("workflow.progress", count, timeout=30)
    assert [int(e["data"]["current_step"]) for e in events] == list(range(count))


def engine_socket_of(server: LiveServer, user: str) -> tuple[str, Any]:
    sid = server.registry.of_user(user)[0].sid
    eio_sid = server.sio.manager.eio_sid_from_sid(sid, NAMESPACE)
    return eio_sid, server.sio.eio.sockets[eio_sid]


def server_side_connections(server: LiveServer, client_port: int) -> list[Any]:
    """uvicorn's connections whose peer is 127.0.0.1:client_port (gone once the TCP connection is)."""
    assert server._server is not None
    return [c for c in server._server.server_state.connections if (c.client or ("", 0))[1] == client_port]


@pytest.mark.parametrize(
    ("fast_path", "implementation"),
    [("true", "websockets-sansio"), ("false", "websockets-sansio"), ("true", "wsproto")],
)
async def test_a_websocket_that_stops_reading_is_cut_and_the_others_get_everything(
    room: str, fast_path: str, implementation: str
) -> None:
    settings = {"ws_fast_path": fast_path, "ws_implementation": implementation, **FAST}
    async with running(LiveServer(**settings)) as server:
        honest = await Client().connect(server.url, token("honest"), transports=["websocket"])
        stalled = await StalledWebSocket(server.url, token("stalled")).open()
        try:
            await honest.subscribe(room)
            assert (await stalled.call(1, subscribe_packet(1, room)))["status"] == "success"
            eio_sid, socket = engine_socket_of(server, "stalled")
            stalled.stop_reading()
            with capture_logs() as logs:
                sent = await stream_until_cut(server, room, "stalled")
                # Its queue was dropped at the cut: only the goodbye (connection.error, CLOSE) is left.
                assert socket.queue.pending_bytes < 1024
                # The peer still reads nothing; its TCP connection goes anyway, and the session with it.
                await eventually(lambda: not server_side_connections(server, stalled.local_port), timeout=5)
                await eventually(lambda: eio_sid not in server.sio.eio.sockets and socket.queue.closed)
                await assert_all_in_order(honest, sent)
            cut = [e for e in logs if e["event"] == "slow_consumer"]
            assert [(e["code"], e["user_id"], e["transport"], e["log_level"]) for e in cut] == [
                ("SLOW_CONSUMER", "stalled", "websocket", "warning")
            ]
            gone = [e for e in logs if e["event"] == "websocket_disconnect"]
            assert [(e["user_id"], e["reason"]) for e in gone] == [("stalled", "slow consumer")]
            samples = await scrape(server.url)
            assert value(samples, "ws_disconnects_total", reason="slow_consumer") == 1
            assert (await honest.call("debug:rooms"))["status"] == "success"
            record("slow consumer", f"WebSocket, {implementation}, fast path {fast_path}: cut after {sent}")
        finally:
            await stalled.close()
            await honest.close()


async def test_a_client_that_reads_again_in_time_is_told_why(room: str) -> None:
    """The goodbye reaches a peer that drains its backlog within the grace: SLOW_CONSUMER, retryable."""
    async with running(LiveServer(**FAST)) as server:
        server.app.state.slow_consumers.grace = 10  # this peer resumes reading only after the cut
        stalled = await StalledWebSocket(server.url, token("paused")).open()
        try:
            assert (await stalled.call(1, subscribe_packet(1, room)))["status"] == "success"
            stalled.stop_reading()
            await stream_until_cut(server, room, "paused")
            stalled.ws.transport.resume_reading()
            frames = []
            async for frame in stalled.ws:  # the backlog the kernel holds, then the goodbye
                frames.append(frame)
            error = json.loads(frames[-2].removeprefix(f"42{NAMESPACE},"))
            assert error[0] == "connection.error"
            assert error[1]["data"]["code"] == "SLOW_CONSUMER"
            assert frames[-1] == "1"  # Engine.IO CLOSE, then the WebSocket's own close
        finally:
            await stalled.close()


async def test_a_polling_client_that_stops_polling_is_cut_the_same_way(room: str) -> None:
    async with running(LiveServer(**FAST)) as server:
        server.app.state.slow_consumers.grace = 10  # room for the last poll below
        honest = await Client().connect(server.url, token("honest"), transports=["polling"])
        poller = await StalledPoller(server.url, token("poller")).open()
        try:
            await honest.subscribe(room)
            assert (await poller.call(1, subscribe_packet(1, room)))["status"] == "success"
            eio_sid, socket = engine_socket_of(server, "poller")
            poller.stop_polling()
            with capture_logs() as logs:
                sent = await stream_until_cut(server, room, "poller")
                assert socket.queue.pending_bytes < 1024
                await assert_all_in_order(honest, sent)
            assert [e["transport"] for e in logs if e["event"] == "slow_consumer"] == ["polling"]
            samples = await scrape(server.url)
            assert value(samples, "ws_disconnects_total", reason="slow_consumer") == 1
            # Polling again, it collects the goodbye (and nothing of what was dropped).
            frames = (await poller.get()).split("\x1e")
            assert len(frames) == 2 and frames[0].startswith(f'42{NAMESPACE},["connection.error",')
            assert frames[1] == "1"  # Engine.IO CLOSE
            assert json.loads(frames[0].removeprefix(f"42{NAMESPACE},"))[1]["data"]["code"] == "SLOW_CONSUMER"
            await eventually(lambda: eio_sid not in server.sio.eio.sockets, timeout=15)
        finally:
            await poller.close()
            await honest.close()
