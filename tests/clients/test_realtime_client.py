"""The Python RoomClient against real servers: cuts, a killed instance, resets, a real gap.

The same scenarios as the JavaScript helper's tests (tests/websocket/history/test_resume.py),
with `clients/python/realtime_client.py` in place of socket.io-client.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

import realtime_client
from events.broadcaster import EventBroadcaster, get_broadcaster
from realtime_client import ConnectRefused, Position, RecoveredInfo, ResetInfo, RoomClient
from tests.support.instances import health, two_instances
from tests.support.net import eventually, free_port
from tests.support.redis import RedisServer
from tests.support.servers import ROOT, LiveServer, running
from tests.support.tcpproxy import FreezableProxy
from tests.support.tokens import token
from websocket.broker.connection import RedisPublisher
from websocket.broker.transport import RedisTransport
from websocket.history.in_redis import RedisHistory
from websocket.protocol import paths
from websocket.protocol.payloads import WorkflowProgress

READ = ("workflows:read", "projects:read")
QUICK = {"transports": ["websocket"], "reconnect_delay": 0.1, "reconnect_delay_max": 0.3}


class Seen:
    """What the client handed to the caller, in the order it did: steps, resets, recoveries."""

    def __init__(self) -> None:
        self.timeline: list[tuple[str, Any]] = []

    async def progress(self, event: dict[str, Any]) -> None:
        # An async handler, slow now and then: later events must still wait their turn.
        step = event["data"]["step_number"]
        await asyncio.sleep(0.002 if step % 10 == 0 else 0)
        self.timeline.append(("step", step))

    def reset(self, room: str, info: ResetInfo) -> None:
        self.timeline.append(("reset", info["reason"]))

    def recovered(self, room: str, info: RecoveredInfo) -> None:
        self.timeline.append(("recovered", info["replayed"]))

    def steps(self) -> list[int]:
        return [value for kind, value in self.timeline if kind == "step"]

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.timeline if k == kind]

    def last_step(self) -> int:
        steps = self.steps()
        return steps[-1] if steps else -1


def room_client(seen: Seen, **options: Any) -> RoomClient:
    rooms = RoomClient(on_reset=seen.reset, on_recovered=seen.recovered, **{**QUICK, **options})
    rooms.on("workflow.progress", seen.progress)
    return rooms


async def step(broadcaster: EventBroadcaster, workflow_id: uuid.UUID, n: int) -> None:
    payload = WorkflowProgress(workflow_id=workflow_id, progress=n % 101, current_step=f"s{n}", step_number=n)
    assert await broadcaster.publish(payload), f"publish {n} failed"


async def publish_steps(
    broadcaster: EventBroadcaster,
    workflow_id: uuid.UUID,
    count: int,
    rate: float,
    during: Callable[[int], Awaitable[None]],
) -> None:
    """`count` workflow.progress events at `rate` per second; `during(i)` runs before event i."""
    for i in range(count):
        await during(i)
        await step(broadcaster, workflow_id, i)
        await asyncio.sleep(1 / rate)


def redis_publisher(redis_url: str, channel: str) -> EventBroadcaster:
    """The test process as a write-only publisher, as a worker would be."""
    publisher = RedisPublisher(redis_url, channel, timeout=2)
    return EventBroadcaster(RedisTransport(publisher, RedisHistory(publisher, channel, 2000, 600, 3600)))


@pytest.fixture
async def server_2000() -> AsyncIterator[LiveServer]:
    """A single instance (history in memory) that keeps 2,000 events per room."""
    async with running(LiveServer(history_size=2000)) as server:
        get_broadcaster().attach(server.app.state.transport)
        yield server


# -- (a) a cut in the middle of 1,000 events ------------------------------------------------------


@pytest.mark.parametrize("replay", ["all", "policy"])
async def test_a_client_cut_off_for_two_seconds_misses_nothing(server_2000: LiveServer, replay: str) -> None:
    proxy = await FreezableProxy(server_2000.port).start()
    workflow_id = uuid.uuid4()
    seen = Seen()
    try:
        async with room_client(seen, replay=replay) as rooms:
            await rooms.connect(proxy.http_url, token=token("py-resumer", scopes=READ))
            assert (await rooms.subscribe(f"workflow:{workflow_id}"))["status"] == "success"

            async def cut_in_the_middle(i: int) -> None:
                if i == 400:
                    await proxy.outage(2.0)

            await publish_steps(get_broadcaster(), workflow_id, 1000, rate=250, during=cut_in_the_middle)
            await eventually(lambda: seen.last_step() == 999, timeout=20)
            assert rooms.connections == 2, "the client was never cut off"
    finally:
        await proxy.stop()
    received = seen.steps()
    [replayed] = seen.of("recovered")
    assert seen.of("reset") == []
    if replay == "all":
        assert received == list(range(1000))  # all of them, in order, no duplicates
        assert replayed >= 300
    else:
        # Only the newest missed progress of the workflow is replayed; nothing repeats, order holds.
        assert received == sorted(set(received)) and received[0] == 0 and received[-1] == 999
        assert replayed == 1
        assert 1000 - len(received) >= 300  # the missed window was compacted, not lost


# -- (b) the instance it is connected to dies, or shuts down -----------------------------------


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_it_resumes_on_the_other_instance_from_redis(
    redis_url: str, unique_channel: str, stop: signal.Signals
) -> None:
    """Given both URLs; SIGTERM too: python-socketio alone does not reconnect after `server.shutdown`."""
    seen = Seen()
    broadcaster = redis_publisher(redis_url, unique_channel)
    workflow_id = uuid.uuid4()
    # The pair of every cross-instance test, with room in history for a SIGTERM's reconnect delay (<= 5 s).
    async with two_instances(redis_url, unique_channel, history_size=2000) as (a, b):
        try:
            async with room_client(seen, replay="all") as rooms:
                await rooms.connect([a.url, b.url], token=token("py-failover", scopes=READ))
                await rooms.subscribe(f"workflow:{workflow_id}")
                hosting, survivor = (a, b) if rooms.url == a.url else (b, a)
                assert (await health(hosting))["connections"] == 1

                async def stop_mid_stream(i: int) -> None:
                    if i == 200:
                        hosting.signal(stop)

                await publish_steps(broadcaster, workflow_id, 600, rate=200, during=stop_mid_stream)
                await eventually(lambda: seen.last_step() == 599, timeout=30)
                assert seen.steps() == list(range(600))
                assert rooms.url == survivor.url and (await health(survivor))["connections"] == 1
                assert seen.of("recovered") and seen.of("reset") == []
                await hosting.wait()  # it did stop (raises otherwise)
        finally:
            await broadcaster.aclose()


# -- a token that expires: the connection ends, the next one gets a fresh token -----------------


async def test_an_expired_connection_comes_back_with_a_fresh_token(server_2000: LiveServer) -> None:
    workflow_id = uuid.uuid4()
    seen = Seen()
    errors: list[tuple[str | None, dict[str, Any]]] = []
    issued: list[str] = []

    async def fresh_token() -> str:  # e.g. a call to your auth service; the first one is short-lived
        issued.append(token("py-expiring", scopes=READ, ttl_seconds=2 if not issued else 600))
        return issued[-1]

    async with room_client(seen, on_error=lambda room, error: errors.append((room, error))) as rooms:
        await rooms.connect(server_2000.url, token=fresh_token)
        await rooms.subscribe(f"workflow:{workflow_id}")
        await step(get_broadcaster(), workflow_id, 0)
        await eventually(lambda: errors != [], timeout=5)  # the first token expired
        await step(get_broadcaster(), workflow_id, 1)  # live or replayed, whenever it is back
        await eventually(lambda: seen.steps() == [0, 1])
        await eventually(lambda: rooms.connections == 2)
    assert [(room, error["code"]) for room, error in errors] == [(None, "AUTH_EXPIRED")]
    assert len(issued) == 2


# -- access taken away ------------------------------------------------------------------------------


async def test_a_refused_token_raises_with_the_servers_code(server: LiveServer) -> None:
    async with RoomClient() as rooms:
        with pytest.raises(ConnectRefused) as refused:
            await rooms.connect(server.url, token=token("py-late", ttl_seconds=-10))
    assert refused.value.code == "AUTH_EXPIRED"


async def test_revocations_are_final(server: LiveServer) -> None:
    """A revoked room is forgotten (with its stored position); a revoked user is not reconnected."""
    errors: list[tuple[str | None, str]] = []
    positions: dict[str, Position] = {}
    room = f"workflow:{uuid.uuid4()}"
    async with RoomClient(
        storage=positions, on_error=lambda room, error: errors.append((room, error["code"])), **QUICK
    ) as rooms:
        await rooms.connect(server.url, token=token("py-revoked", scopes=READ))
        await rooms.subscribe(room)
        await eventually(lambda: room in positions)
        assert await get_broadcaster().revoke_room("py-revoked", room, reason="removed from the project")
        await eventually(lambda: room not in positions)
        assert rooms.position(room) is None
        assert await get_broadcaster().disconnect_user("py-revoked", reason="account disabled")
        await asyncio.wait_for(rooms.wait(), 5)  # returns: it does not try again
        assert rooms.connections == 1
    assert errors == [(None, "ACCESS_REVOKED")]


# -- (c) history cannot cover the gap: on_reset, and live events go on ------------------------------


async def cut_while(proxy: FreezableProxy, rooms: RoomClient, away: Callable[[], Awaitable[None]]) -> None:
    """Cut the client's network, run `away()` while it cannot reconnect, wait until it is back."""
    before = rooms.connections
    await proxy.outage(2.0)
    await away()  # takes milliseconds: the proxy refuses connections for two seconds
    await eventually(lambda: rooms.connections == before + 1, timeout=10)


@pytest.mark.parametrize("limit", ["history_expired", "replay_limited"])
async def test_history_that_cannot_cover_the_gap_is_a_reset(limit: str) -> None:
    settings = {"history_size": 5} if limit == "history_expired" else {"replay_bytes_per_minute": 0}
    workflow_id = uuid.uuid4()
    seen = Seen()
    async with running(LiveServer(**settings)) as server:
        broadcaster = get_broadcaster()
        broadcaster.attach(server.app.state.transport)
        proxy = await FreezableProxy(server.port).start()
        try:
            async with room_client(seen, replay="all") as rooms:
                await rooms.connect(proxy.http_url, token=token("py-reset", scopes=READ))
                await rooms.subscribe(f"workflow:{workflow_id}")
                await step(broadcaster, workflow_id, 0)
                await eventually(lambda: seen.steps() == [0])

                async def missed() -> None:
                    for n in range(1, 11):  # more than HISTORY_SIZE (5) keeps
                        await step(broadcaster, workflow_id, n)

                await cut_while(proxy, rooms, missed)
                await eventually(lambda: seen.of("reset") != [])
                await step(broadcaster, workflow_id, 11)
                await eventually(lambda: seen.last_step() == 11)
                await rooms.drain()
                assert rooms.position(f"workflow:{workflow_id}")["offset"] == 12  # type: ignore[index]
        finally:
            await proxy.stop()
    # 1-10 are for the REST reload; the reset comes before the live events that follow it.
    assert seen.timeline == [("step", 0), ("reset", limit), ("step", 11)]


def on_redis(redis_url: str, channel: str) -> dict[str, str]:
    return {"redis_url": redis_url, "socketio_channel": channel, "redis_key_prefix": channel}


@pytest.fixture
async def redis_server(redis_url: str, unique_channel: str) -> AsyncIterator[LiveServer]:
    """An in-process server on Redis, the process-wide broadcaster publishing through it."""
    async with running(LiveServer(**on_redis(redis_url, unique_channel))) as server:
        get_broadcaster().attach(server.app.state.transport)
        yield server


async def lose_stream(redis_url: str, prefix: str, room: str) -> None:
    """Redis loses the room's stream (flushed, restarted without persistence): a new epoch."""
    history = RedisHistory(RedisPublisher(redis_url, prefix, 2), prefix, 10, 600, 3600)
    await history.publisher.run(lambda pipe: pipe.delete(*history.keys(room)))
    await history.publisher.aclose()


@pytest.mark.parametrize("noticed", ["live", "on_resume"])
async def test_a_new_epoch_is_a_reset(
    redis_server: LiveServer, redis_url: str, unique_channel: str, noticed: str
) -> None:
    """The stream is lost while the client listens (a live event shows a new epoch), or while it is away."""
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    seen = Seen()
    broadcaster = get_broadcaster()
    proxy = await FreezableProxy(redis_server.port).start()
    try:
        async with room_client(seen) as rooms:
            await rooms.connect(proxy.http_url, token=token("py-epoch", scopes=READ))
            await rooms.subscribe(room)
            await step(broadcaster, workflow_id, 0)
            await eventually(lambda: seen.steps() == [0])
            first_epoch = rooms.position(room)["epoch"]  # type: ignore[index]
            if noticed == "live":
                await lose_stream(redis_url, unique_channel, room)
            else:
                await cut_while(proxy, rooms, lambda: lose_stream(redis_url, unique_channel, room))
                await eventually(lambda: seen.of("reset") != [])
            await step(broadcaster, workflow_id, 1)  # offset 1 of the new stream
            await step(broadcaster, workflow_id, 2)
            await eventually(lambda: seen.last_step() == 2)
            await rooms.drain()
            position = rooms.position(room)
            assert position is not None and position["offset"] == 2 and position["epoch"] != first_epoch
    finally:
        await proxy.stop()
    assert seen.timeline == [("step", 0), ("reset", "epoch_changed"), ("step", 1), ("step", 2)]


# -- (d) a real gap in live events: the instance's Redis subscription dies for a moment --------


class SlowUplink:
    """A TCP relay whose client-to-server direction lags `delay` seconds, as a distant client's would.

    While the client's re-ask travels, live events keep coming the other way.
    """

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port, self.delay = target_port, delay
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> SlowUplink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        for pipe in (self._lagging(client_r, upstream_w), self._pipe(upstream_r, client_w)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _lagging(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send_when_due() -> None:
            while True:
                due, data = await chunks.get()
                await asyncio.sleep(max(0.0, due - loop.time()))  # the link's latency, not a wait for a state
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send_when_due())
        try:
            while data := await reader.read(65536):
                chunks.put_nowait((loop.time() + self.delay, data))
        finally:
            sender.cancel()
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()


async def test_a_gap_in_live_events_is_filled_and_later_events_wait(unique_channel: str) -> None:
    """Events published while the instance's pub/sub connection is down never reach it live.

    They are in the room's Redis stream, though: the next live event shows a gap and the client
    asks again (`since`). Over a link whose uplink lags 0.2 s, live events keep arriving while
    the question travels: they wait for the answer (one question, not one per event), and the
    handlers see every event once, in order. A private Redis, as every pub/sub client is killed.
    """
    private = RedisServer().start()
    admin = aioredis.from_url(private.url)
    workflow_id = uuid.uuid4()
    room = f"workflow:{workflow_id}"
    seen = Seen()

    async def listeners() -> int:
        [(_, count)] = await admin.pubsub_numsub(unique_channel)
        return int(count)

    async def listening_again() -> bool:
        return await listeners() == 1

    try:
        async with (
            running(LiveServer(**on_redis(private.url, unique_channel))) as server,
            SlowUplink(server.port, delay=0.2) as link,
            room_client(seen, replay="all") as rooms,
        ):
            broadcaster = get_broadcaster()
            broadcaster.attach(server.app.state.transport)
            await rooms.connect(link.url, token=token("py-gap", scopes=READ))
            await rooms.subscribe(room)
            for n in (0, 1):
                await step(broadcaster, workflow_id, n)
            await eventually(lambda: seen.steps() == [0, 1])
            assert await admin.client_kill_filter(_type="pubsub") >= 1
            assert await listeners() == 0
            for n in (2, 3, 4):  # stored in the stream, published to nobody
                await step(broadcaster, workflow_id, n)
            assert await listeners() == 0, "the instance listened again too soon: no gap was made"
            await eventually(listening_again, timeout=10)
            with capture_logs() as logs:
                for n in range(5, 41):  # 5 shows the gap; the rest stream in while the re-ask travels
                    await step(broadcaster, workflow_id, n)
                    await asyncio.sleep(0.01)
                await eventually(lambda: seen.last_step() == 40)
            assert rooms.connections == 1  # no reconnect: the gap alone made it ask again
    finally:
        await admin.aclose()
        private.stop()
    resumes = [e for e in logs if e["event"] in ("room_resumed", "room_not_recovered") and e["room"] == room]
    assert len(resumes) == 1, f"{len(resumes)} re-asks for one gap"
    assert seen.steps() == list(range(41))  # replayed 2-4 (and what the replay reached), then live, once
    [replayed] = seen.of("recovered")
    assert replayed >= 4


# -- a file other services copy ------------------------------------------------------------------


def test_it_imports_nothing_of_the_server_and_knows_its_paths() -> None:
    """Copied alone into a service it must work: no server package, the same namespace and path."""
    probe = "import sys, realtime_client; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT / "clients" / "python", env={}, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    for package in ("websocket", "events", "config", "routers", "pydantic", "fastapi"):
        assert f"'{package}'" not in loaded
    assert "'socketio'" in loaded
    assert realtime_client.NAMESPACE == paths.NAMESPACE
    assert realtime_client.ENGINEIO_PATH == paths.ENGINEIO_PATH
