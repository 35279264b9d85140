"""The servers under test: ours and the three references, started as child processes.

Every target serves Engine.IO at `/ws/socket.io/`, the `/ws` namespace, a
`subscribe` command with ack, and `POST /bench/broadcast` (see
servers/trigger.py), so the load generator and the driver are identical for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from bench.procs import (
    API_DIR,
    BENCH_DIR,
    ROOT,
    SERVER_CORES,
    WORK_DIR,
    cpu_seconds,
    free_port,
    pinned,
    rss_kb,
)

SERVERS_DIR = BENCH_DIR / "servers"


@dataclass(frozen=True, slots=True)
class RedisLink:
    """Where instances meet when a scenario crosses instances."""

    url: str
    channel: str


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str
    description: str
    crosses_instances: bool  # has a Redis mode the cross-instance scenario can use

    def command(self, port: int, control_port: int, redis: RedisLink | None) -> list[str]:
        if self.key == "ours":
            return [sys.executable, "-m", "bench.servers.ours"]
        if self.key == "python-socketio":
            extra = ["--redis-url", redis.url, "--channel", redis.channel] if redis else []
            return [sys.executable, "-m", "bench.servers.bare_socketio", "--port", str(port), *extra]
        if self.key == "websockets":
            ports = ["--port", str(port), "--control-port", str(control_port)]
            return [sys.executable, "-m", "bench.servers.bare_websockets", *ports]
        extra = ["--redis-url", redis.url, "--channel", redis.channel] if redis else []
        return ["node", str(SERVERS_DIR / "node_socketio.mjs"), "--port", str(port), *extra]

    def env(self, port: int, secret: str, redis: RedisLink | None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(API_DIR), str(ROOT)] if self.key == "ours" else [str(ROOT)])
        if self.key == "ours":
            env.update(
                ENVIRONMENT="production",
                JWT_SECRET_KEY=secret,
                HOST="127.0.0.1",
                PORT=str(port),
                LOG_FORMAT="json",
                LOG_LEVEL="INFO",
                REDIS_URL=redis.url if redis else "",
                SOCKETIO_CHANNEL=redis.channel if redis else "socketio",
            )
        return env


TARGETS: dict[str, Target] = {
    t.key: t
    for t in (
        Target("ours", "ours", "apps/api as `python main.py` runs it, plus the bench trigger route", True),
        Target(
            "python-socketio",
            "python-socketio",
            "bare python-socketio AsyncServer on uvicorn: stock manager, no auth, rooms or models",
            True,
        ),
        Target(
            "websockets",
            "websockets",
            "bare `websockets` server, minimal Engine.IO framing, `websockets.broadcast()`",
            False,
        ),
        Target(
            "node", "Node socket.io", "Node socket.io 4.8 server, no auth (Redis adapter when crossing)", True
        ),
    )
}


def ours_crosses_instances() -> bool:
    """Whether this checkout of apps/api has the Redis fan-out (issue 3) to measure."""
    from config import Settings

    return "socketio_channel" in Settings.model_fields


class Server:
    """One running target process."""

    def __init__(self, target: Target, name: str, redis: RedisLink | None = None) -> None:
        self.target = target
        self.port = free_port()
        self.control_port = free_port() if target.key == "websockets" else self.port
        self.log_path = WORK_DIR / "logs" / f"{name}.log"
        self.redis = redis
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/socket.io/?EIO=4&transport=websocket"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kb(self) -> int:
        return rss_kb(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    async def start(self, secret: str, timeout: float = 30) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # ours runs where `python main.py` runs (it reads apps/api/.env like main.py).
        cwd = {"ours": API_DIR, "node": BENCH_DIR}.get(self.target.key, ROOT)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                pinned(SERVER_CORES, self.target.command(self.port, self.control_port, self.redis)),
                cwd=cwd,
                env=self.target.env(self.port, secret, self.redis),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.target.key} exited at start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.control_url + "/health", timeout=2)).status_code == 200:
                        return self
                await asyncio.sleep(0.1)
        await self.stop()
        raise RuntimeError(f"{self.target.key} did not become healthy:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    async def broadcast(self, room: str, n: int, rate: float = 0, pad: int = 0) -> dict[str, float]:
        """Ask the server to send `n` events to `room`; returns when it has sent them."""
        params: dict[str, str | int | float] = {"room": room, "n": n, "rate": rate, "pad": pad}
        async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as http:
            response = await http.post(self.control_url + "/bench/broadcast", params=params)
        response.raise_for_status()
        result: dict[str, float] = response.json()
        return result
