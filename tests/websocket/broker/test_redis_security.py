"""Running on a shared Redis: a locked-down ACL user, TLS with a password."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from tests.support.clients import Client
from tests.support.cluster import RedisClusterServers
from tests.support.net import free_port
from tests.support.redis import PASSWORD, RedisServer, acl_rule, require
from tests.support.servers import ServerProcess, run_module
from tests.support.tokens import token


async def broadcast_round_trip(redis_url: str, extra_env: dict[str, str] | None = None) -> None:
    """One instance and one write-only publisher on `redis_url`; the event must arrive."""
    server = ServerProcess(redis_url=redis_url, **{k.lower(): v for k, v in (extra_env or {}).items()})
    await server.start()
    project_id = uuid.uuid4()
    client = await Client().connect(server.url, token("secure", scopes=["projects:read"]))
    try:
        await client.subscribe(f"project:{project_id}")
        status, output = await run_module(
            "examples.worker", str(project_id), env={"REDIS_URL": redis_url, **(extra_env or {})}
        )
        assert status == 0, output
        await client.wait_for("project.updated")
    finally:
        await client.close()
        await server.stop()
    # No traceback, and no error line: a command the ACL lacks shows up as redis_publish_failed.
    assert not server.trouble(), server.trouble()


async def test_documented_acl_user_is_enough(acl_redis: RedisServer) -> None:
    url = f"redis://eventserver:{PASSWORD}@127.0.0.1:{acl_redis.port}/0"
    await broadcast_round_trip(url)


async def test_documented_acl_user_is_enough_on_a_cluster(redis_cluster: RedisClusterServers) -> None:
    for node in redis_cluster.nodes:  # a cluster does not share ACLs between its nodes
        with redis_cluster.client(node.port) as admin:
            admin.execute_command("ACL", "SETUSER", *acl_rule())
    await broadcast_round_trip(f"redis://eventserver:{PASSWORD}@127.0.0.1:{redis_cluster.nodes[0].port}/0")


@pytest.mark.parametrize(
    "command",
    [
        ("PUBLISH", "someone-elses-channel", "x"),
        ("GET", "someone-elses-key"),
        ("SET", "eventserver-not-quite:key", "x"),
        ("KEYS", "*"),
        ("FLUSHALL",),
        ("CONFIG", "GET", "requirepass"),
    ],
)
async def test_acl_user_cannot_reach_anything_else(acl_redis: RedisServer, command: tuple[str, ...]) -> None:
    restricted = aioredis.Redis.from_url(f"redis://eventserver:{PASSWORD}@127.0.0.1:{acl_redis.port}/0")
    try:
        with pytest.raises(NoPermissionError):
            await restricted.execute_command(*command)
    finally:
        await restricted.aclose()


@pytest.fixture
def tls_files(tmp_path: Path) -> Path:
    openssl = require("openssl", "the TLS test makes its own certificates")
    run = lambda *args: subprocess.run([openssl, *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "redis.key",
        "-out", "redis.csr")  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "1", "-extfile", "san.ext", "-out", "redis.crt")  # fmt: skip
    return tmp_path


async def test_rediss_with_password(tls_files: Path) -> None:
    port = free_port()
    server = RedisServer(
        free_port(), "--tls-port", str(port), "--tls-cert-file", str(tls_files / "redis.crt"),
        "--tls-key-file", str(tls_files / "redis.key"), "--tls-ca-cert-file", str(tls_files / "ca.crt"),
        "--tls-auth-clients", "no", "--requirepass", PASSWORD,
    )  # fmt: skip
    server.start()
    try:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={tls_files / 'ca.crt'}"
        await broadcast_round_trip(url)
    finally:
        server.stop()
