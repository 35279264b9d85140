"""Shared fixtures: real servers, real clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import Client
from tests.support.cluster import RedisClusterServers
from tests.support.instances import two_instances
from tests.support.node import NodeClient
from tests.support.process_state import reset_process_state
from tests.support.redis import RedisServer, acl_redis_server, redis_url_from_env
from tests.support.runtime import build_runtime_venv
from tests.support.servers import FAST_PATH_OFF, LiveServer, ServerProcess

pytest_plugins = ["tests.support.figures", "tests.support.order"]


def pytest_report_header() -> str | None:
    return (
        "WS_FAST_PATH=false: servers under test use python-engineio's own sockets" if FAST_PATH_OFF else None
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`@pytest.mark.fast_path_only(reason=...)`: a guarantee only the fast path gives, skipped without it."""
    if not FAST_PATH_OFF:
        return
    for item in items:
        marker = item.get_closest_marker("fast_path_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"fast path only: {marker.kwargs['reason']}"))


@pytest.fixture(autouse=True)
async def _fresh_process_state() -> AsyncIterator[None]:
    """Every process-wide singleton as a fresh process has it, before and after each test
    (tests/support/process_state.py): no test depends on what another left behind."""
    await reset_process_state()
    yield
    await reset_process_state()


def _examine_server_logs(node: pytest.Item | pytest.Collector) -> None:
    marker = node.get_closest_marker("server_errors")
    expected = marker.args if marker else ()
    problems = []
    for server in list(ServerProcess.watched):
        found = server.unexamined_trouble(*expected)
        if found:
            problems.append(f"{server.log_path}:\n" + "\n".join(found[:10]))
        if server.exited:
            ServerProcess.watched.remove(server)
    assert not problems, "trouble in a server's log:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
async def _clean_server_logs(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """What every ServerProcess wrote during the test holds no trouble (tests/support/logcheck.py).

    Checked after the test's own fixtures stopped their servers, so shutdown is included;
    one the test left running (it failed before its stop, say) is stopped first, so that
    nothing it writes later is blamed on another test. A test that provokes error records
    on purpose names their events: `@pytest.mark.server_errors("event_not_published", ...)`.
    """
    before = set(map(id, ServerProcess.watched))
    yield
    for server in ServerProcess.watched:
        if id(server) not in before and not server.exited:
            await server.stop()
    _examine_server_logs(request.node)


@pytest.fixture(autouse=True, scope="module")
def _clean_server_logs_of_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """The same for a module's own servers, once its fixtures have stopped them."""
    yield
    _examine_server_logs(request.node)


@pytest.fixture(scope="session")
async def _session_server() -> AsyncIterator[LiveServer]:
    server = await LiveServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def server(_session_server: LiveServer) -> LiveServer:
    """The shared in-process server, with the process-wide broadcaster attached to it."""
    return _session_server.attach_broadcaster()


ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect(server: LiveServer) -> AsyncIterator[ClientFactory]:
    """connect(token=..., **options) -> a connected python-socketio Client."""
    clients: list[Client] = []

    async def factory(token: Any = "default", url: str | None = None, **options: Any) -> Client:
        client = Client()
        clients.append(client)
        return await client.connect(url or server.url, token, **options)

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def node() -> AsyncIterator[Callable[[], Awaitable[NodeClient]]]:
    """node() -> a started Node process running socket.io-client."""
    started: list[NodeClient] = []

    async def factory() -> NodeClient:
        client = await NodeClient().start()
        started.append(client)
        return client

    yield factory
    for client in started:
        await client.close()


@pytest.fixture(scope="session")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv holding requirements.txt alone (tests/support/runtime.py), once per session."""
    return build_runtime_venv(tmp_path_factory.mktemp("runtime-env") / "venv")


@pytest.fixture(scope="session")
def single_redis_url() -> Iterator[str]:
    """A real Redis: `REDIS_URL` when the environment gives one, else one started for the session.

    Tests sharing it keep apart by using their own channel and key prefix
    (see `unique_channel`); tests that stop Redis start their own `RedisServer`.
    """
    from_env = redis_url_from_env()
    if from_env:
        yield from_env
        return
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_url(single_redis_url: str) -> str:
    """The Redis of most tests: a single one (modules that run on both override this with `any_redis`)."""
    return single_redis_url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    """A Redis Cluster of our own (3 masters, 1 replica each), started once for the session when asked for."""
    cluster = RedisClusterServers().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def any_redis(request: pytest.FixtureRequest, single_redis_url: str) -> str:
    """A single Redis, then a Redis Cluster: a module runs on both with
    `redis_url = any_redis_fixture` (see tests/websocket/history/test_resume.py)."""
    if request.param == "cluster":
        return str(request.getfixturevalue("redis_cluster").url)
    return single_redis_url


@pytest.fixture
def unique_channel() -> str:
    """A Socket.IO channel (and key prefix) no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def pair(redis_url: str, unique_channel: str) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Two instances (separate `python main.py` processes) on one Redis channel (support/instances.py)."""
    async with two_instances(redis_url, unique_channel) as servers:
        yield servers


@pytest.fixture
async def acl_redis() -> AsyncIterator[RedisServer]:
    """A private Redis whose `eventserver` user is deploy/redis/acl.conf's, password PASSWORD."""
    async with acl_redis_server() as server:
        yield server
