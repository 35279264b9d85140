"""Two instances behind the nginx configuration shipped in deploy/, one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Client
from tests.support.figures import record
from tests.support.instances import health
from tests.support.net import eventually
from tests.support.nginx import NGINX_CONF, nginx
from tests.support.node import NodeFactory
from tests.support.servers import ServerProcess, run_module
from tests.support.tokens import token


async def test_polling_then_upgrade_through_nginx(
    redis_url: str, unique_channel: str, tmp_path: Path
) -> None:
    settings = {"redis_url": redis_url, "socketio_channel": unique_channel}
    a, b = ServerProcess(**settings), ServerProcess(**settings)
    await asyncio.gather(a.start(), b.start())
    project_id = uuid.uuid4()
    clients: list[Client] = []
    try:
        async with nginx([a.port, b.port], tmp_path) as proxy_url:
            for i in range(16):
                client = Client(local_addr=f"127.0.0.{i + 2}")
                clients.append(client)
                # default transports: long-polling first, then the WebSocket upgrade
                await client.connect(proxy_url, token(f"lb-{i}", scopes=["projects:read"]), path="socket.io")
                await client.subscribe(f"project:{project_id}")
            await eventually(lambda: all(c.sio.transport() == "websocket" for c in clients), timeout=10)
            counts = [(await health(server))["connections"] for server in (a, b)]
            assert sum(counts) == 16 and min(counts) >= 1, counts  # both instances serve

            status, output = await run_module(
                "examples.worker", str(project_id),
                env={"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": unique_channel},
            )  # fmt: skip
            assert status == 0, output
            for client in clients:
                await client.wait_for("project.updated")
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(a.stop(), b.stop())


@pytest.mark.parametrize("transports", [None, ["websocket"]])
async def test_js_client_through_nginx(
    redis_url: str, unique_channel: str, tmp_path: Path, node: NodeFactory, transports: list[str] | None
) -> None:
    settings = {"redis_url": redis_url, "socketio_channel": unique_channel}
    a, b = ServerProcess(**settings), ServerProcess(**settings)
    await asyncio.gather(a.start(), b.start())
    try:
        async with nginx([a.port, b.port], tmp_path) as proxy_url:
            js = await node()
            opts: dict[str, object] = {"auth": {"token": token("js-lb")}, "path": "/ws/socket.io"}
            if transports:
                opts["transports"] = transports
            reply = await js.connect(proxy_url + "/ws", **opts)
            assert reply["ok"], reply
            project_id = uuid.uuid4()
            assert (await js.call("subscribe", {"room": f"project:{project_id}"}))["status"] == "success"
            status, output = await run_module(
                "examples.worker", str(project_id),
                env={"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": unique_channel},
            )  # fmt: skip
            assert status == 0, output
            [event] = await js.wait_for("project.updated")
            assert event["data"]["project_id"] == str(project_id)
    finally:
        await asyncio.gather(a.stop(), b.stop())


def shipped(directive: str) -> float:
    """A `directive Ns;` of the shipped config, in seconds."""
    match = re.search(rf"^\s*{directive} (\d+)s;", NGINX_CONF.read_text(), re.MULTILINE)
    assert match, f"{directive} not in {NGINX_CONF}"
    return float(match.group(1))


async def cut_after(port: int, first: bytes, trickle: bytes = b"", every: float = 0.5) -> tuple[bytes, float]:
    """From 127.0.0.4: send `first`, then `trickle` a byte every `every` s; (answer, seconds to EOF)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.4", 0))
    opened = time.monotonic()

    async def dribble() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(first)
            for byte in trickle:
                await asyncio.sleep(every)
                writer.write(bytes([byte]))
                await writer.drain()

    sender = asyncio.create_task(dribble())
    answer = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), 60):
            answer += chunk
    took = time.monotonic() - opened
    sender.cancel()
    writer.close()
    return answer, took


async def statuses_from(address: str, url: str, count: int, every: float = 0.0) -> list[int]:
    """`count` GETs of `url` from `address` (all at once when `every` is 0)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        if not every:
            return [r.status_code for r in await asyncio.gather(*(http.get(url) for _ in range(count)))]
        statuses = []
        for _ in range(count):
            statuses.append((await http.get(url)).status_code)
            await asyncio.sleep(every)
        return statuses


async def test_the_proxy_cuts_slow_headers_and_a_flood_while_others_are_served(tmp_path: Path) -> None:
    header_timeout = shipped("client_header_timeout")
    instance = await ServerProcess().start()
    try:
        async with nginx([instance.port, instance.port], tmp_path) as proxy_url:
            port = int(proxy_url.rsplit(":", 1)[1])
            slow = [  # half a request line, then nothing; a header trickled a byte every 0.5 s
                asyncio.create_task(cut_after(port, b"GET /health HTT")),
                asyncio.create_task(cut_after(port, b"GET /health HTTP/1.1\r\n", b"X-a: b\r\n" * 100)),
            ]
            flood = asyncio.create_task(statuses_from("127.0.0.2", proxy_url + "/health", 200))
            others = asyncio.create_task(statuses_from("127.0.0.3", proxy_url + "/health", 10, every=0.2))
            flooded = await flood
            # The flooding address still reaches Engine.IO, which has its own allowance.
            flooder = Client(local_addr="127.0.0.2")
            await flooder.connect(proxy_url, token("flooder"), transports=["polling"])
            await flooder.close()
            assert set(await others) == {200}
            assert 429 in flooded and 200 in flooded, sorted(set(flooded))
            cuts = await asyncio.gather(*slow)
            for answer, took in cuts:
                # nginx closes without an answer (it logs 408); the margin is for a loaded machine.
                assert answer == b"" and header_timeout - 0.5 <= took < header_timeout + 3, (answer, took)
            record(
                "nginx front",
                f"a flood of {len(flooded)} requests from one address: {flooded.count(200)} served, "
                f"{flooded.count(429)} answered 429, while another address got 10 of 10; slow headers cut "
                f"after {', '.join(f'{took:.1f}' for _, took in cuts)} s (client_header_timeout "
                f"{header_timeout:g} s)",
            )

            # Bodies: 1 MB in general, 25 MB for GitHub's webhook deliveries.
            two_mb = b"x" * (2 * 1024 * 1024)
            async with httpx.AsyncClient(base_url=proxy_url, timeout=10) as http:
                assert (await http.post("/api/events", content=two_mb)).status_code == 413
                webhook = await http.post("/webhooks/github", content=two_mb)
                # Past nginx: the server's own answer (an unsigned delivery is refused).
                assert webhook.status_code != 413 and "code" in webhook.json()["detail"], webhook.text
                # Metrics are scraped from the instances, never through the public proxy.
                assert (await http.get("/metrics")).status_code == 404
                assert (await http.get(instance.url + "/metrics")).status_code == 200
    finally:
        await instance.stop()
