"""SIGTERM: stop accepting, finish what is in flight, say goodbye, close cleanly, exit in time."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.support.clients import Client, ConnectRefused
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.node import NodeClient
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from websocket.server import ENGINEIO_PATH

NodeFactory = Callable[[], Awaitable[NodeClient]]
READ = ("projects:read",)
TIMEOUT = 4.0


async def stream_updates(server: ServerProcess, project: uuid.UUID, accepted: list[int]) -> None:
    """PUT updates one after another until the server stops answering; remember the accepted ones."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for i in range(10_000):
            try:
                response = await http.put(
                    f"/api/projects/{project}",
                    json={"name": f"update-{i}"},
                    headers={"Authorization": f"Bearer {token('editor')}"},
                )
            except httpx.HTTPError:
                return
            if response.status_code == 200 and response.json()["broadcast"]:
                accepted.append(i)
            await asyncio.sleep(0.01)


async def stuck_polling_session(server: ServerProcess) -> None:
    """A polling client that connects and then never polls again: it cannot be told anything."""
    url = f"{server.url}/{ENGINEIO_PATH}/"
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.get(url, params={"EIO": "4", "transport": "polling"})
        params = {"EIO": "4", "transport": "polling", "sid": json.loads(opened.text[1:])["sid"]}
        await http.post(url, params=params, content=f'40/ws,{{"token":"{token("stuck")}"}}')


def updates_before_shutdown(events: list[tuple[str, object]], who: str = "") -> list[str]:
    names = [name for name, _ in events]
    assert "server.shutdown" in names, (who, names[-3:])
    cut = names.index("server.shutdown")
    return [data["data"]["project_name"] for name, data in events[:cut] if name == "project.updated"]  # type: ignore[index]


@pytest.mark.parametrize("redis", [False, True], ids=["single", "redis"])
async def test_sigterm_drains_and_exits_within_the_timeout(
    node: NodeFactory, redis: bool, request: pytest.FixtureRequest
) -> None:
    # With Redis every broadcast makes a round trip through the channel before
    # it reaches this instance's clients: the drain must wait for those too.
    fanout = (
        {
            "redis_url": request.getfixturevalue("redis_url"),
            "socketio_channel": request.getfixturevalue("unique_channel"),
        }
        if redis
        else {}
    )
    server = await ServerProcess(shutdown_timeout=TIMEOUT, **fanout).start()
    project = uuid.uuid4()
    room = f"project:{project}"
    websocket_client = await Client().connect(server.url, token("ws", scopes=READ), transports=["websocket"])
    polling_client = await Client().connect(server.url, token("poll", scopes=READ), transports=["polling"])
    js = await node()
    assert (await js.connect(server.url + "/ws", auth={"token": token("js", scopes=READ)}))["ok"]
    for client in (websocket_client, polling_client):
        await client.subscribe(room)
    assert (await js.call("subscribe", {"room": room}))["status"] == "success"
    await stuck_polling_session(server)

    accepted: list[int] = []
    streamer = asyncio.create_task(stream_updates(server, project, accepted))
    await eventually(lambda: len(accepted) >= 5)
    sent_at = time.monotonic()
    server.signal(signal.SIGTERM)

    await eventually(lambda: "shutdown_started" in server.log(), timeout=5)
    with pytest.raises(ConnectRefused):  # no new connections while draining
        await Client().connect(server.url, token("latecomer"), transports=["websocket"])

    status = await server.wait(TIMEOUT + 10)
    took = time.monotonic() - sent_at
    await streamer
    assert status in (0, -signal.SIGTERM)
    assert took < TIMEOUT + 2, took  # the timeout bounds the drain; the rest is interpreter exit

    expected = [f"update-{i}" for i in accepted]
    for who, client in (("websocket", websocket_client), ("polling", polling_client)):
        await eventually(lambda c=client: not c.sio.connected)
        assert updates_before_shutdown(client.events, f"{who} {client.disconnect_reasons}") == expected
        shutdown = client.received("server.shutdown")[0]
        assert 1000 <= shutdown["data"]["reconnect_delay_ms"] <= 5000
    js_events = [(n["event"], n["args"][0]) for n in js.notices if n.get("type") == "event"]
    assert updates_before_shutdown(js_events, f"js {js.notices[-3:]}") == expected
    disconnect = await js.wait_notice("disconnect")
    assert disconnect["reason"] in ("transport close", "io server disconnect"), disconnect

    log = server.log()
    assert "Traceback" not in log
    drained = next(json.loads(line) for line in log.splitlines() if '"shutdown_drained"' in line)
    assert drained["told"] >= 3 and drained["in_flight_finished"] is True
    for client in (websocket_client, polling_client):
        await client.close()
    record(
        f"shutdown ({'redis' if redis else 'single instance'})",
        f"SIGTERM with {len(accepted)} broadcasts accepted during the stream: all {len(expected)} delivered "
        f"before server.shutdown to each of 3 clients (websocket, polling, socket.io-client); "
        f"one client that stopped polling; exit {took:.1f} s after SIGTERM (SHUTDOWN_TIMEOUT {TIMEOUT:g} s)",
    )
