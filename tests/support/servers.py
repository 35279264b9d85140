"""Real servers for the tests: uvicorn in this process, or `python main.py` as a child.

In-process servers let a test call `get_broadcaster()` inside the server's
own process; child processes are for what needs a process boundary (several
instances, signals, crashes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn
from fastapi import APIRouter

from tests.support.logcheck import trouble_in
from tests.support.net import free_port
from tests.support.tokens import SECRET, WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
API_DIR = ROOT / "apps" / "api"
# One folder per test run for the child servers' logs (kept for post-mortems of failures).
LOG_DIR = tempfile.mkdtemp(prefix="eventserver-test-logs-")
# Settings a whole test run may choose from its own environment (the Makefile's second pass
# runs the protocol tests with WS_FAST_PATH=false); a test's own overrides still win.
FROM_ENVIRONMENT = ("WS_FAST_PATH",)
FAST_PATH_OFF = os.environ.get("WS_FAST_PATH", "").strip().lower() in ("0", "false", "f", "no", "n", "off")


def test_env(**overrides: Any) -> dict[str, str]:
    """Environment for a server under test: known secret, JSON logs, loopback."""
    env = {
        "ENVIRONMENT": "development",
        "JWT_SECRET_KEY": SECRET,
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "REDIS_URL": "",
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        # A client that stopped reading holds the drain until this deadline: keep test stops quick.
        "SHUTDOWN_TIMEOUT": "3",
        # Every test client comes from 127.0.0.1, and the suite sends it thousands of deliberate
        # bad tokens: one address's failed connects are throttled only where a test asks for it
        # (tests/websocket/gateway/test_flood.py sets the defaults back).
        "CONNECT_FAILURE_BURST": "1000000",
    }
    env.update({name: os.environ[name] for name in FROM_ENVIRONMENT if os.environ.get(name)})
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket of `port` (Linux /proc)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return True  # no /proc here: trust the health check
    for line in lines:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and f"socket:[{inode}]" in inodes:
            return True
    return False


class LiveServer:
    """uvicorn serving `create_app()` inside the test process, on a free port."""

    def __init__(self, routers: Sequence[APIRouter] = (), **settings: Any) -> None:
        """`routers`: application routes to add, as a host application would (the examples)."""
        from config import load_settings

        self.routers = list(routers)
        self.port = free_port()
        self.settings = load_settings(
            **{k.lower(): v for k, v in test_env(**settings).items()} | {"port": self.port}
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> LiveServer:
        from main import create_app
        from serving import GracefulServer, uvicorn_options

        self.app = create_app(self.settings)
        for router in self.routers:
            self.app.include_router(router)
        config = uvicorn.Config(self.app, **uvicorn_options(self.settings), lifespan="on")
        self._server = GracefulServer(config, self.app.state.drain, self.settings.shutdown_timeout)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError("in-process server did not start")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)

    def cut_connections(self) -> int:
        """Abort every open TCP connection, as a network failure would; return how many."""
        assert self._server is not None
        connections = list(self._server.server_state.connections)
        for connection in connections:
            connection.transport.abort()
        return len(connections)

    def attach_broadcaster(self) -> LiveServer:
        """Deliver `get_broadcaster()`'s events through this server, as its lifespan does at start."""
        from events.broadcaster import get_broadcaster

        state = self.app.state
        get_broadcaster().attach(state.transport, observer=state.metrics)
        get_broadcaster().use_dedupe(state.dedupe, self.settings.dedupe_window)
        return self

    @property
    def sio(self) -> Any:
        return self.app.state.sio

    @property
    def registry(self) -> Any:
        return self.app.state.registry


class ServerProcess:
    """`python main.py` in a child process, its log captured to a file.

    Every one started is watched: conftest's autouse log check reads what each
    wrote during a test (and at the end of a module) and fails the test on any
    trouble (`trouble()`), unless the test names the error events it provokes
    with `@pytest.mark.server_errors(...)`.
    """

    watched: ClassVar[list[ServerProcess]] = []

    def __init__(self, port: int | None = None, **settings: Any) -> None:
        self.port = port or free_port()
        self.env = {**os.environ, **test_env(**settings), "PORT": str(self.port)}
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", dir=LOG_DIR, delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self._examined = 0  # bytes of the log the autouse check has read

    async def start(self, timeout: float = 15) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "main.py"], cwd=API_DIR, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        ServerProcess.watched.append(self)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
                # Healthy, and listening in *this* process (not some other server that took the port).
                with contextlib.suppress(httpx.HTTPError):
                    healthy = (await http.get(self.url + "/health", timeout=1)).status_code == 200
                    if healthy and listens_on(self.proc.pid, self.port):
                        return self
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server did not become healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The server's JSON log lines, parsed (lines that are not JSON are left out)."""
        parsed = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    parsed.append(record)
        return parsed

    def trouble(self, *expected: str) -> list[str]:
        """What a clean run never logs (tests/support/logcheck.py): tracebacks, error and critical
        records, Python's complaints; `expected`: events of error records provoked on purpose."""
        return trouble_in(self.log(), expected)

    @property
    def exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def unexamined_trouble(self, *expected: str) -> list[str]:
        """`trouble()` in what the log gained since the last call (whole lines while it runs)."""
        data = self.log_path.read_bytes()
        end = len(data) if self.exited else data.rfind(b"\n") + 1
        if end <= self._examined:
            return []
        chunk, self._examined = data[self._examined : end], end
        return trouble_in(chunk.decode(errors="replace"), expected)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    async def wait(self, timeout: float = 15) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError("server did not exit")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            await self.wait(15)
        except TimeoutError:
            self.proc.kill()
            await self.wait(5)


@contextlib.asynccontextmanager
async def running(server: LiveServer | ServerProcess) -> AsyncIterator[Any]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def run_module(module: str, *args: str, env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """`python -m module args` in apps/api with `env` added; (exit status, combined output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=API_DIR, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, output.decode(errors="replace")
