"""5,000 clients leave at once; everyone else keeps receiving events and answering pings.

Each of the 5,000 is in five rooms (its sid, its user, global and three
projects: 25,000 rooms in the namespace). Stock python-socketio scans every
room of the namespace on each disconnect and keeps pending disconnects in a
list: measured on a 2-core machine, this wave took it 42 s with the event
loop blocked for up to 33 s at a stretch, far past the 5 s + 5 s ping budget
used here, so every bystander would be dropped. This server's manager leaves
only each client's own rooms and keeps pending sets: the same wave took 3 s,
the loop never blocked for much more than a second. (Checked: with stock's
`basic_disconnect` and pending lists put back, this test fails; the server
stops answering /health for over 10 s and the bystanders' clients give up.)
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.support.clients import Client
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.servers import ServerProcess
from tests.support.swarm import Swarm, raise_fd_limit
from tests.support.tokens import token
from tests.support.traffic import publish_until

SWARM = 5_000
ROOMS_EACH = 3  # project rooms per swarm client, besides its automatic ones
BYSTANDERS = 20
PINGS = {"ping_interval": 5, "ping_timeout": 5}
READ = ("projects:read",)


async def connections(server: ServerProcess) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(server.url + "/health", timeout=10)).json()["connections"])


@pytest.mark.slow
async def test_mass_disconnect_does_not_freeze_the_server() -> None:
    raise_fd_limit(SWARM * 2 + 1_000)
    server = ServerProcess(max_connections=SWARM * 2, log_level="WARNING", **PINGS)
    await server.start()
    swarm = await Swarm().start()
    project = uuid.uuid4()
    bystanders: list[Client] = []
    try:
        for i in range(BYSTANDERS):
            client = await Client().connect(
                server.url, token(f"bystander-{i}", scopes=READ), transports=["websocket"]
            )
            await client.subscribe(f"project:{project}")
            bystanders.append(client)
        tokens = [token(f"swarm-{i}", scopes=READ) for i in range(SWARM)]
        opened = await swarm.request(
            "open", url=server.url, tokens=tokens, rooms=ROOMS_EACH, concurrency=100, timeout=300
        )
        assert opened["connected"] == SWARM, opened
        assert await connections(server) == SWARM + BYSTANDERS

        stop, sent = asyncio.Event(), []
        publisher = asyncio.create_task(publish_until(server, project, stop, sent))
        await eventually(lambda: len(sent) >= 5)
        started = time.monotonic()
        assert (await swarm.request("close_all"))["closed"] == SWARM
        while await connections(server) > BYSTANDERS:
            await asyncio.sleep(0.1)
        wave = time.monotonic() - started
        await asyncio.sleep(PINGS["ping_interval"])  # another ping cycle after the wave
        stop.set()
        await publisher

        for client in bystanders:
            await client.wait_count("project.updated", len(sent), timeout=30)
            names = [event["data"]["project_name"] for event in client.received("project.updated")]
            assert names == sent
            assert client.sio.connected and client.disconnect_reasons == []
        assert await connections(server) == BYSTANDERS
        assert server.trouble() == [], server.trouble()[:5]
    finally:
        await swarm.close()
        for client in bystanders:
            await client.close()
        await server.stop()
    record(
        "mass disconnect",
        f"{SWARM:,} clients left at once (gone from the server in {wave:.1f} s) while {BYSTANDERS} others "
        f"received all {len(sent)} events each, in order, with 5 s pings and a 5 s timeout: none dropped",
    )
