"""A real Redis for the tests: `REDIS_URL` when set, else a `redis-server` of our own.

Outage tests need a Redis they may stop and start again, so `RedisServer`
can always start a private one on a free port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


def require(tool: str, why: str) -> str:
    """Path of `tool`; a skip locally, a failure in CI (REQUIRE_ALL_TESTS=1)."""
    found = shutil.which(tool) or next(
        (str(p) for p in (Path("/usr/sbin") / tool, Path("/usr/bin") / tool) if p.exists()), None
    )
    if found:
        return found
    message = f"{tool} is not installed ({why}); .ci/run installs it"
    if os.environ.get("REQUIRE_ALL_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


class RedisServer:
    """A private redis-server process: no persistence, loopback only."""

    def __init__(self, port: int | None = None, *extra_args: str) -> None:
        self.port = port or free_port()
        self.extra_args = extra_args
        self.dir = tempfile.mkdtemp(prefix="redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = require("redis-server", "tests that cross instances use a real Redis")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def redis_url_from_env() -> str | None:
    url = os.environ.get("REDIS_URL", "").strip()
    return url or None


ACL_FILE = ROOT / "deploy" / "redis" / "acl.conf"


PASSWORD = "acl-test-password-0123456789"


def acl_rule() -> list[str]:
    """The documented ACL line, with a test password, as ACL SETUSER arguments."""
    line = next(line for line in ACL_FILE.read_text().splitlines() if line.startswith("user "))
    words = line.split()[1:]
    return [f">{PASSWORD}" if word.startswith(">") else word for word in words]


@contextlib.asynccontextmanager
async def acl_redis_server() -> AsyncIterator[RedisServer]:
    """A private Redis with the documented ACL user (deploy/redis/acl.conf) set up."""
    server = RedisServer().start()
    try:
        admin = aioredis.Redis.from_url(server.url)
        await admin.execute_command("ACL", "SETUSER", *acl_rule())
        await admin.aclose()
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def any_client(url: str) -> AsyncIterator[Any]:
    """redis-py's client for `url`: a `RedisCluster` when it names a cluster node, else a `Redis`."""
    from redis.asyncio.cluster import RedisCluster
    from redis.exceptions import ResponseError

    client: Any = aioredis.Redis.from_url(url)
    try:
        await client.execute_command("CLUSTER", "INFO")
    except ResponseError:
        try:
            yield client
        finally:
            await client.aclose()
        return
    await client.aclose()
    client = RedisCluster.from_url(url)
    await client.initialize()
    try:
        yield client
    finally:
        await client.aclose()


async def listeners(url: str, channel: str) -> int:
    """How many connections listen to `channel`: PUBSUB NUMSUB, or SHARDNUMSUB on a cluster's owner."""
    async with any_client(url) as client:
        if not isinstance(client, aioredis.Redis):
            node = client.get_node_from_key(channel)
            reply = await client.execute_command("PUBSUB", "SHARDNUMSUB", channel, target_nodes=node)
            return int(reply[1])
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)


async def publish_raw(url: str, channel: str, *messages: bytes | str) -> None:
    """Publish as any process could: PUBLISH, or SPUBLISH on a cluster (where the server listens)."""
    async with any_client(url) as client:
        for message in messages:
            if isinstance(client, aioredis.Redis):
                await client.publish(channel, message)
            else:
                await client.spublish(channel, message)
