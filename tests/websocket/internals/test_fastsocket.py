"""FastSocket against real uvicorn and real clients: same protocol, pings, closes, backpressure."""

from __future__ import annotations

import asyncio
import json
import socket as socket_module
import uuid
from typing import Any

import httpx
import pytest
import websockets
from engineio.async_socket import AsyncSocket
from structlog.testing import capture_logs

from events.broadcaster import get_broadcaster
from tests.support.clients import Client
from tests.support.net import eventually
from tests.support.node import NodeClient, NodeFactory
from tests.support.raw import RawSocket
from tests.support.servers import LiveServer, running
from tests.support.tokens import token
from websocket.internals.engine import NO_BODY
from websocket.internals.fastsocket import FastSocket
from websocket.internals.frame_lane import FrameLane
from websocket.internals.packet_queue import PacketQueue
from websocket.protocol.paths import ENGINEIO_PATH, NAMESPACE
from websocket.protocol.payloads import WorkflowProgress

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)


async def until_closed(ws: Any, timeout: float = 10) -> None:
    """Read (without answering pings) until the server closes the WebSocket."""
    with pytest.raises(websockets.ConnectionClosed):  # noqa: PT012 - reading until it ends
        while True:
            await asyncio.wait_for(ws.recv(), timeout)


def engine_socket(server: LiveServer, client: Client) -> Any:
    return server.sio.eio.sockets[client.sio.eio.sid]


@pytest.mark.fast_path_only(reason="it checks that FastSocket is in use")
@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"], ["polling"]])
async def test_every_transport_gets_a_fast_socket(
    server: LiveServer, connect: Any, transports: list[str]
) -> None:
    client = await connect(transports=transports)
    socket = engine_socket(server, client)
    assert type(socket) is FastSocket and isinstance(socket.queue, PacketQueue)
    # The handshake environ python-socketio keeps holds no per-request body reader.
    assert server.sio.environ[client.sio.eio.sid]["wsgi.input"] is NO_BODY
    room = f"workflow:{uuid.uuid4()}"
    await client.subscribe(room)
    workflow_id = room.partition(":")[2]
    for step in range(3):
        payload = WorkflowProgress(workflow_id=workflow_id, progress=step, current_step=f"step {step}")
        assert await get_broadcaster().publish(payload)
    events = await client.wait_count("workflow.progress", 3)
    assert [e["data"]["progress"] for e in events] == [0, 1, 2]


async def test_switched_off_it_is_python_engineio_as_shipped() -> None:
    async with running(LiveServer(ws_fast_path="false")) as server:
        client = await Client().connect(server.url, token(), transports=["websocket"])
        try:
            socket = engine_socket(server, client)
            # python-engineio's own socket, with the byte-bounded queue (MAX_QUEUED_BYTES) only.
            assert type(socket) is AsyncSocket and isinstance(socket.queue, PacketQueue)
            assert socket.queue.limit == server.settings.max_queued_bytes
            assert (await client.call("debug:rooms"))["status"] == "success"
        finally:
            await client.close()


@pytest.mark.fast_path_only(reason='stock reports a ping timeout over WebSocket as "transport close"')
async def test_a_client_answering_pings_stays_and_a_silent_one_is_dropped() -> None:
    async with running(LiveServer(ping_interval=1, ping_timeout=1)) as server:
        live = await Client().connect(server.url, token("pings-live"), transports=["websocket"])
        try:
            with capture_logs() as logs:
                async with RawSocket(server.url, token("pings-silent")) as silent:
                    # The silent client never answers "2"; the server closes its WebSocket.
                    await until_closed(silent.ws)
            # Meanwhile the live one (python-socketio answers pings) is still served.
            assert (await live.call("debug:rooms"))["status"] == "success"
            assert [c.user.id for c in server.registry] == ["pings-live"]
        finally:
            await live.close()
        gone = [e for e in logs if e["event"] == "websocket_disconnect"]
        assert [(e["user_id"], e["reason"]) for e in gone] == [("pings-silent", "ping timeout")]


@pytest.mark.fast_path_only(
    reason="stock leaves the WebSocket open after CLOSE; socket.io-client notices after the ping timeout"
)
@pytest.mark.parametrize("transports", [["websocket"], ["polling", "websocket"]])
async def test_a_server_initiated_close_reaches_socket_io_client_at_once(
    server: LiveServer, node: NodeFactory, transports: list[str]
) -> None:
    # socket.io-client ignores an Engine.IO CLOSE packet over WebSocket; without the
    # WebSocket being closed it would notice only after ping_interval + ping_timeout (85 s).
    js: NodeClient = await node()
    auth = {"token": token("closed-by-server")}
    reply = await js.connect(server.url + NAMESPACE, auth=auth, transports=transports)
    assert reply["ok"], reply
    if len(transports) > 1:
        await js.wait_notice("upgrade")
    eio_sid = server.sio.manager.eio_sid_from_sid(reply["socket_id"], NAMESPACE)
    await server.sio.eio.disconnect(eio_sid)
    notice = await js.wait_notice("disconnect", timeout=10)
    assert notice["reason"] == "transport close"


async def test_a_client_that_stops_reading_gets_everything_later_in_order() -> None:
    # A backlog of about 10 MB, under a ceiling that allows it (the default 1 MiB would
    # cut this client: tests/websocket/server/test_slow_consumers.py).
    room = f"workflow:{uuid.uuid4()}"
    workflow_id = room.partition(":")[2]
    async with running(LiveServer(max_queued_bytes=64 * 1024 * 1024)) as server:
        reader = await Client().connect(server.url, token("fast-reader"))
        try:
            await reader.subscribe(room)
            async with RawSocket(server.url, token("slow-reader")) as slow:
                await slow.send_packet(f'2{NAMESPACE},1["subscribe",{{"room":"{room}"}}]')
                assert (await slow.next_ack(1))[0]["status"] == "success"
                socket = server.sio.eio.sockets[server.sio.manager.eio_sid_from_sid(
                    server.registry.of_user("slow-reader")[0].sid, NAMESPACE)]  # fmt: skip
                # The raw client stops reading, with a small receive buffer (no autotuning to
                # tens of MB): once the buffers are full, writes to it have to wait.
                tcp = slow.ws.transport.get_extra_info("socket")
                tcp.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 16_384)
                slow.ws.transport.pause_reading()
                padding = "x" * 50_000
                count = 200  # about 10 MB: more than the server's send buffer and the client's receive one
                for n in range(count):
                    payload = WorkflowProgress(
                        workflow_id=workflow_id, progress=n % 101, current_step=str(n), message=padding
                    )
                    assert await get_broadcaster().publish(payload)
                    await asyncio.sleep(0)
                assert socket.queue.backlog > 0  # the backlog waits, in order, for the client
                # The client that reads got everything meanwhile.
                assert len(await reader.wait_count("workflow.progress", count, timeout=30)) == count
                slow.ws.transport.resume_reading()
                steps = []
                while len(steps) < count:
                    frame = await slow.recv(timeout=30)
                    if frame.startswith(f'42{NAMESPACE},["workflow.progress"'):
                        data = json.loads(frame[len(f"42{NAMESPACE},") :])[1]["data"]
                        steps.append(int(data["current_step"]))
                assert steps == list(range(count))
        finally:
            await reader.close()


async def next_step(raw: RawSocket) -> int:
    """The `current_step` of the next workflow.progress event the raw client reads."""
    while True:
        frame = await raw.recv(timeout=30)
        if frame.startswith(f'42{NAMESPACE},["workflow.progress"'):
            return int(json.loads(frame[len(f"42{NAMESPACE},") :])[1]["data"]["current_step"])


@pytest.mark.fast_path_only(reason="lanes are FastSocket's (frame_lane.FrameLane)")
async def test_a_broadcast_takes_the_lane_only_while_nothing_waits_in_the_queue() -> None:
    room = f"workflow:{uuid.uuid4()}"
    workflow_id = room.partition(":")[2]
    sent = 0

    async def publish() -> None:
        nonlocal sent
        payload = WorkflowProgress(
            workflow_id=workflow_id, progress=sent % 101, current_step=str(sent), message="x" * 50_000
        )
        assert await get_broadcaster().publish(payload)
        sent += 1

    async with running(LiveServer(max_queued_bytes=64 * 1024 * 1024)) as server:
        async with RawSocket(server.url, token("lane-reader")) as raw:
            await raw.send_packet(f'2{NAMESPACE},1["subscribe",{{"room":"{room}"}}]')
            assert (await raw.next_ack(1))[0]["status"] == "success"
            socket = server.sio.eio.sockets[server.sio.manager.eio_sid_from_sid(
                server.registry.of_user("lane-reader")[0].sid, NAMESPACE)]  # fmt: skip
            lane = socket.lane
            assert isinstance(lane, FrameLane) and lane.blocked == 0
            await publish()
            assert socket.queue.backlog == 0  # written through the lane: nothing was queued
            tcp = raw.ws.transport.get_extra_info("socket")
            tcp.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 16_384)
            raw.ws.transport.pause_reading()
            while socket.queue.backlog == 0 and sent < 1_000:  # until the transport pushes back
                await publish()
                await asyncio.sleep(0)
            assert socket.queue.backlog > 0 and lane.blocked & FrameLane.SINK
            for _ in range(5):  # these wait behind the backlog: the lane is shut, nothing overtakes it
                await publish()
            assert socket.queue.backlog >= 5
            tcp.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4 * 1024 * 1024)  # read fast
            raw.ws.transport.resume_reading()
            assert [await next_step(raw) for _ in range(sent)] == list(range(sent))
            await eventually(lambda: lane.blocked == 0)  # the writer is idle again: the lane reopens
            await publish()
            assert socket.queue.backlog == 0
            assert await next_step(raw) == sent - 1
        await eventually(lambda: socket.lane is None and lane.blocked & FrameLane.CLOSED != 0)


async def test_a_message_over_the_size_limit_closes_only_that_connection() -> None:
    async with (
        running(LiveServer(max_http_buffer_size=2048)) as server,
        RawSocket(server.url, token("small")) as small,
        RawSocket(server.url, token("big")) as big,
    ):
        await big.send_frame("4" + f'2{NAMESPACE},["debug:rooms",{{"pad":"{"x" * 4096}"}}]')
        await until_closed(big.ws)
        await small.send_packet(f'2{NAMESPACE},1["debug:rooms",{{}}]')
        assert (await small.next_ack(1))[0]["status"] == "success"


@pytest.mark.fast_path_only(reason='stock answers the goodbye poll with 400 "Session is disconnected"')
async def test_a_polling_client_between_polls_still_collects_the_goodbye(server: LiveServer) -> None:
    """A close that waits for the client must not refuse the very poll it waits for.

    Stock python-engineio marks the session closed before waiting, so the
    client's next GET got 400 "Session is disconnected" and never saw the
    CLOSE (nor anything queued before it).
    """
    base = f"{server.url}/{ENGINEIO_PATH}/?EIO=4&transport=polling"
    async with httpx.AsyncClient(timeout=10) as http:
        handshake = (await http.get(base)).text
        assert handshake.startswith("0{"), handshake
        sid = json.loads(handshake[1:])["sid"]
        url = f"{base}&sid={sid}"
        connect = f"40{NAMESPACE}," + json.dumps({"token": token("between-polls")})
        assert (await http.post(url, content=connect)).text == "ok"
        assert (await http.get(url)).text.startswith(f"40{NAMESPACE},")
        # No GET is pending now; the server ends the session and waits for the client.
        closing = asyncio.ensure_future(server.sio.eio.sockets[sid].close(wait=True))
        await asyncio.sleep(0.1)
        assert not closing.done()  # it waits for the client to collect the CLOSE
        last = await http.get(url)
        assert last.status_code == 200, last.text
        assert last.text.split("\x1e")[-1] == "1"  # Engine.IO CLOSE, after anything queued before it
        await asyncio.wait_for(closing, 5)
