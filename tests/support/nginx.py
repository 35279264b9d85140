"""Debian's nginx running the shipped configuration (deploy/nginx/eventserver.conf) in front of instances."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.support.net import free_port
from tests.support.redis import require
from tests.support.servers import ROOT

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
    # Started as root, nginx's workers would run as "nobody" and could not write request
    # bodies to their temporary files in the test's folder (only root may enter it).
    user = "user root;" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(
        f"""worker_processes 1;
{user}
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
