"""Slow consumers are cut, not buffered (issue 12, row 1).

A peer that stops reading (raw WebSocket with a small receive buffer, or a
long-polling client that stops polling), and answers pings blindly so the
heartbeat never ends it, is closed once `MAX_QUEUED_BYTES` wait for it:
counted, audited, its queue freed, its TCP connection gone although it never
reads again; an honest client on the same server gets every event, in order.
Repeated `subscribe {since}` by such a peer cannot make the server buffer more.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from events.broadcaster import get_broadcaster
from tests.support.audit import refusals
from tests.support.clients import Client
from tests.support.figures import record
from tests.support.metrics import scrape, value
from tests.support.net import eventually
from tests.support.node import NodeClient
from tests.support.servers import LiveServer, ServerProcess, running
from tests.support.stalled import StalledPoller, StalledWebSocket, subscribe_packet
from tests.support.tokens import token
from websocket.protocol.paths import NAMESPACE
from websocket.protocol.payloads import WorkflowProgress

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

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


@pytest.mark.parametrize("fast_path", ["true", "false"])
async def test_a_polling_client_that_stops_polling_is_cut_the_same_way(room: str, fast_path: str) -> None:
    async with running(LiveServer(ws_fast_path=fast_path, **FAST)) as server:
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
            last = await poller.http.get(poller.url)
            if fast_path == "false":
                # python-engineio's own socket refuses every request once closed, its goodbye's
                # poll included: the session is forgotten at once.
                assert last.status_code == 400 and eio_sid not in server.sio.eio.sockets
                return
            # Polling again, it collects the goodbye (and nothing of what was dropped), then is forgotten.
            frames = last.text.split("\x1e")
            assert len(frames) == 2 and frames[0].startswith(f'42{NAMESPACE},["connection.error",')
            assert frames[1] == "1"  # Engine.IO CLOSE
            assert json.loads(frames[0].removeprefix(f"42{NAMESPACE},"))[1]["data"]["code"] == "SLOW_CONSUMER"
            await eventually(lambda: eio_sid not in server.sio.eio.sockets, timeout=5)
        finally:
            await poller.close()
            await honest.close()


async def test_a_replay_the_budget_does_not_cover_is_refused_and_the_client_stays_subscribed(
    room: str,
) -> None:
    workflow_id = room.partition(":")[2]

    async def step(n: int) -> None:
        assert await get_broadcaster().publish(
            WorkflowProgress(workflow_id=workflow_id, progress=n, current_step=str(n))
        )

    async with running(LiveServer(replay_bytes_per_minute=0)) as server:
        client = await Client().connect(server.url, token("resumer"))
        try:
            position = (await client.subscribe(room))["position"]
            for n in range(3):
                await step(n)
            await client.wait_count("workflow.progress", 3)
            with capture_logs() as logs:
                ack = await client.subscribe(room, since=position, replay="all")
            assert ack["position"]["offset"] == 3  # live events after it follow the ack
            assert (ack["recovered"], ack["replayed"], ack["reason"]) == (False, 0, "replay_limited")
            assert [(e["code"], e["log_level"]) for e in logs if e["event"] == "replay_limited"] == [
                ("RATE_LIMITED", "info")
            ]
            await step(3)  # still subscribed: live events go on after the refused replay
            events = await client.wait_count("workflow.progress", 4)
            assert [e["data"]["current_step"] for e in events] == ["0", "1", "2", "3"]
            assert not any(e.get("replayed") for e in events)
        finally:
            await client.close()


async def test_the_js_helper_reloads_a_room_whose_replay_was_refused(
    room: str, node: Callable[[], Awaitable[NodeClient]]
) -> None:
    """realtime-client.js: `replay_limited` is a reset (reload over REST), and live events go on."""
    workflow_id = room.partition(":")[2]

    async def step(n: int) -> None:
        assert await get_broadcaster().publish(
            WorkflowProgress(workflow_id=workflow_id, progress=n, current_step=str(n), step_number=n)
        )

    async with running(LiveServer(replay_bytes_per_minute=0)) as server:
        js = await node()
        reply = await js.connect(
            server.url + NAMESPACE, auth={"token": token("js-resumer")}, path="/ws/socket.io",
            transports=["websocket"], reconnection=True, reconnectionDelay=500, randomizationFactor=0,
            rooms={"replay": "all"},
        )  # fmt: skip
        assert reply["ok"], reply
        assert (await js.request("room_subscribe", room=room))["ack"][0]["status"] == "success"
        await step(0)
        await js.wait_for("workflow.progress", kind="room_event")
        await js.request("cut")  # the network drops; socket.io-client reconnects, the helper resumes
        await js.wait_notice("disconnect")
        await step(1)  # missed while away: the replay would cost more than the budget (0)
        reset = await js.wait_notice("reset")
        assert reset["room"] == room and reset["info"]["reason"] == "replay_limited"
        assert reset["info"]["position"]["offset"] == 2
        await step(2)
        await eventually(lambda: len(js.events("workflow.progress", kind="room_event")) == 2)
        got = [e["data"]["step_number"] for e in js.events("workflow.progress", kind="room_event")]
        assert got == [0, 2]  # step 1 is for the REST reload; live events resume after the reset
        assert js.of_kind("recovered") == []


# -- the amplification probe of issue 12: repeated `since` subscribes by a peer that never reads --

EVENTS = 200  # HISTORY_SIZE's default: the whole history is replayed by `since: {offset: 0}`
EVENT_PAD = "y" * 4000  # ~4.2 KB each: ~0.85 MB per replay, as in the probe
PROBES = 100


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
async def child() -> AsyncIterator[ServerProcess]:
    # Repeated `replay_limited` lines are summarised (websocket/audit.py): a short interval
    # writes their counts while the test waits for them.
    async with running(ServerProcess(audit_summary_interval=0.2)) as server:
        yield server


async def fill_history(server: ServerProcess, room: str) -> None:
    workflow_id = room.partition(":")[2]
    service = {"Authorization": f"Bearer {token('probe-publisher', role='service', scopes=())}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for batch in range(EVENTS // 100):
            data = {"workflow_id": workflow_id, "progress": 0, "message": EVENT_PAD}
            events = [
                {"type": "workflow.progress", "data": {**data, "current_step": f"{batch * 100 + i}"}}
                for i in range(100)
            ]
            assert (await http.post("/api/events", json=events, headers=service)).status_code == 202


async def test_repeated_since_subscribes_by_a_non_reader_cannot_amplify(
    child: ServerProcess, room: str
) -> None:
    await fill_history(child, room)
    stalled = await StalledWebSocket(child.url, token("amplifier")).open()
    try:
        ack = await stalled.call(1, subscribe_packet(1, room))
        assert ack["position"]["offset"] == EVENTS
        since = {"offset": 0, "epoch": ack["position"]["epoch"]}
        baseline = peak = rss_kb(child.proc.pid)  # type: ignore[union-attr]
        stalled.stop_reading()
        for n in range(PROBES):
            await stalled.ws.send(subscribe_packet(n + 2, room, since=since, replay="all"))
            peak = max(peak, rss_kb(child.proc.pid))  # type: ignore[union-attr]
            await asyncio.sleep(0.055)  # under COMMAND_RATE (20/s), as the probe did

        def answered(event: str) -> int:
            """`since` subscribes handled: resumed (a line each), or refused (summaries count repeats)."""
            return refusals(child.records(), lambda r: r.get("event") == event)

        async def all_answered() -> bool:
            nonlocal peak
            peak = max(peak, rss_kb(child.proc.pid))  # type: ignore[union-attr]
            return answered("room_resumed") + answered("replay_limited") == PROBES

        await eventually(all_answered, timeout=30, interval=0.05)
        growth_mb = (peak - baseline) / 1024
        resumed = answered("room_resumed")
        record("slow consumer", f"{PROBES} `since` subscribes by a non-reader: RSS +{growth_mb:.1f} MB "
               f"({resumed} replayed, {PROBES - resumed} replay_limited); before the fix +84 MB")  # fmt: skip
        # Before: every replay queued, ~0.85 MB each, +84 MB. Now: the queue ceiling (1 MiB) and
        # the replay budget (4 MiB a minute) allow a handful; the rest are refused.
        assert growth_mb < 12, f"RSS grew by {growth_mb:.1f} MB"
        assert resumed <= 5 and PROBES - resumed >= 95
        # The peer, reading again, learns which replays were refused.
        stalled.ws.transport.resume_reading()
        acks = [await stalled.ack(n + 2) for n in range(PROBES)]
        reasons = [a.get("reason") for a in acks]
        assert reasons.count("replay_limited") == PROBES - resumed
        assert all(a["status"] == "success" and a["position"]["offset"] == EVENTS for a in acks)
        assert not child.trouble()  # refusals are audit lines, not errors
    finally:
        await stalled.close()
