"""Two instances behind the nginx configuration shipped in deploy/, one Redis."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_js_client import NodeFactory
from tests.integration.test_redis_fanout import health
from tests.support.clients import Client
from tests.support.net import eventually, free_port
from tests.support.redis import require
from tests.support.servers import ROOT, ServerProcess, run_module
from tests.support.tokens import token

NGINX_CONF = ROOT / "deploy" / "nginx" / "eventserver.conf"


def render(upstreams: list[int], listen: int) -> str:
    """The shipped config with this test's ports; nothing else changes."""
    text = NGINX_CONF.read_text()
    servers = iter(upstreams)
    text = re.sub(r"server 127\.0\.0\.1:\d+", lambda _: f"server 127.0.0.1:{next(servers)}", text)
    return re.sub(r"listen \d+;", f"listen 127.0.0.1:{listen};", text)


@contextlib.asynccontextmanager
async def nginx(upstreams: list[int], workdir: Path) -> AsyncIterator[str]:
    binary = require("nginx", "the load-balancer test runs the shipped nginx configuration")
    port = free_port()
    (workdir / "eventserver.conf").write_text(render(upstreams, port))
    (workdir / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    include {workdir}/eventserver.conf;
}}
"""
    )
    proc = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url + "/health")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(5)


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
                "events.worker_example", str(project_id),
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
                "events.worker_example", str(project_id),
                env={"REDIS_URL": redis_url, "SOCKETIO_CHANNEL": unique_channel},
            )  # fmt: skip
            assert status == 0, output
            [event] = await js.wait_for("project.updated")
            assert event["data"]["project_id"] == str(project_id)
    finally:
        await asyncio.gather(a.stop(), b.stop())
