"""The servers under test: ours and the references, started as child processes.

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
from pathlib import Path

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
# References whose trigger routes live on a control port of their own (no HTTP router).
SEPARATE_CONTROL = {"websockets": "bench.servers.bare_websockets", "asyncio": "bench.servers.bare_asyncio"}


@dataclass(frozen=True, slots=True)
class RedisLink:
    """Where instances meet when a scenario crosses instances."""

    url: str
    channel: str


# "ours before": apps/api as round 2 of issue 7 found it (main after round 1),
# taken from git by --before so the changes are measured in the same invocation.
BEFORE_REF = "1a49452"


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str
    description: str
    program: str  # which server: "ours", "python-socketio", "websockets", "asyncio" or "node"
    crosses_instances: bool  # has a Redis mode the cross-instance scenarios can use
    settings: tuple[tuple[str, str], ...] = ()  # environment added for ours (its settings)
    before: bool = False  # ours from the --before git ref instead of this checkout
    sharded: bool = False  # node: @socket.io/redis-adapter's sharded adapter (SSUBSCRIBE per room)

    @property
    def is_ours(self) -> bool:
        return self.program == "ours"

    def command(self, port: int, control_port: int, redis: RedisLink | None) -> list[str]:
        if self.is_ours:
            return [sys.executable, "-m", "bench.servers.ours"]
        if self.program == "python-socketio":
            extra = ["--redis-url", redis.url, "--channel", redis.channel] if redis else []
            return [sys.executable, "-m", "bench.servers.bare_socketio", "--port", str(port), *extra]
        if self.program in SEPARATE_CONTROL:
            ports = ["--port", str(port), "--control-port", str(control_port)]
            return [sys.executable, "-m", SEPARATE_CONTROL[self.program], *ports]
        extra = ["--redis-url", redis.url, "--channel", redis.channel] if redis else []
        if self.sharded:
            extra.append("--sharded")
        return ["node", str(SERVERS_DIR / "node_socketio.mjs"), "--port", str(port), *extra]

    def api_dir(self, before_ref: str) -> Path:
        return before_api_dir(before_ref) if self.before else API_DIR

    def env(
        self, port: int, secret: str, redis: RedisLink | None, before_ref: str, settings: dict[str, str]
    ) -> dict[str, str]:
        env = dict(os.environ)
        if not self.is_ours:
            env["PYTHONPATH"] = str(ROOT)
            return env
        env["PYTHONPATH"] = os.pathsep.join([str(self.api_dir(before_ref)), str(ROOT)])
        env.update(
            ENVIRONMENT="production",
            JWT_SECRET_KEY=secret,
            HOST="127.0.0.1",
            PORT=str(port),
            LOG_FORMAT="json",
            LOG_LEVEL="INFO",
            REDIS_URL=redis.url if redis else "",
            SOCKETIO_CHANNEL=redis.channel if redis else "socketio",
            REDIS_KEY_PREFIX=redis.channel if redis else "eventserver",
        )
        env.update(dict(self.settings))
        env.update(settings)
        return env


def before_api_dir(ref: str) -> Path:
    """apps/api at git `ref`, extracted once under bench/.work (not a worktree: git is left alone)."""
    target = WORK_DIR / f"before-{ref}"
    api = target / "apps" / "api"
    if not (api / "main.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "apps/api"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return api


def _ours(key: str, label: str, description: str, **kwargs: object) -> Target:
    return Target(key, label, description, "ours", True, **kwargs)  # type: ignore[arg-type]


TARGETS: dict[str, Target] = {
    t.key: t
    for t in (
        _ours("ours", "ours", "apps/api as `python main.py` runs it, plus the bench trigger route"),
        _ours(
            "ours-before",
            "ours before",
            "apps/api at the `--before` git ref (default: main when round 2 of issue 7 began), same wrapper",
            before=True,
        ),
        _ours(
            "ours-stock-engineio",
            "ours, stock Engine.IO",
            "ours with `WS_FAST_PATH=false`: python-engineio's own socket loops and the full ASGI stack",
            settings=(("WS_FAST_PATH", "false"),),
        ),
        _ours(
            "ours-default-gc",
            "ours, default GC",
            "ours with `GC_TUNING=false`: no gc.freeze(), CPython's default thresholds",
            settings=(("GC_TUNING", "false"),),
        ),
        _ours(
            "ours-stock-ws",
            "ours, uvicorn's WebSocket protocol",
            "ours with `WS_LEAN_PROTOCOL=false`: uvicorn's websockets-sansio protocol as shipped",
            settings=(("WS_LEAN_PROTOCOL", "false"),),
        ),
        _ours(
            "ours-no-freeze",
            "ours, survivors not frozen",
            "ours with `GC_FREEZE_SURVIVORS=false`: GC_TUNING's start-up freeze and thresholds only",
            settings=(("GC_FREEZE_SURVIVORS", "false"),),
        ),
        _ours(
            "ours-gate",
            "ours, clean-ups bounded per turn",
            "ours with `DISCONNECTS_PER_TURN=32` (off by default): at most 32 clean-ups of ended "
            "WebSockets per event-loop turn",
            settings=(("DISCONNECTS_PER_TURN", "32"),),
        ),
        Target(
            "python-socketio",
            "python-socketio",
            "bare python-socketio AsyncServer on uvicorn: stock manager, no auth, rooms or models",
            "python-socketio",
            True,
        ),
        Target(
            "websockets",
            "websockets",
            "bare `websockets` server, minimal Engine.IO framing, `websockets.broadcast()`",
            "websockets",
            False,
        ),
        Target(
            "asyncio",
            "minimal asyncio",
            "one raw asyncio Protocol per connection on uvloop: hand-framed WebSocket, minimal Engine.IO, "
            "101 and OPEN in one write (bench/servers/bare_asyncio.py)",
            "asyncio",
            False,
        ),
        Target(
            "node",
            "Node socket.io",
            "Node socket.io 4.8 server, no auth (Redis adapter when crossing)",
            "node",
            True,
        ),
        Target(
            "node-sharded",
            "Node socket.io sharded",
            "Node socket.io 4.8 server, no auth, @socket.io/redis-adapter 8.3's sharded adapter "
            "(SPUBLISH/SSUBSCRIBE, a channel per room subscribed while the room has a local member)",
            "node",
            True,
            sharded=True,
        ),
    )
}
# Variants of ours that switch one change off: ours ÷ variant is what that change bought.
ABLATIONS = (
    "ours-before", "ours-stock-engineio", "ours-default-gc",
    "ours-stock-ws", "ours-no-freeze", "ours-gate",
)  # fmt: skip


class Server:
    """One running target process."""

    def __init__(
        self,
        target: Target,
        name: str,
        redis: RedisLink | None = None,
        before_ref: str = BEFORE_REF,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self.port = free_port()
        self.control_port = free_port() if target.program in SEPARATE_CONTROL else self.port
        self.log_path = WORK_DIR / "logs" / f"{name}.log"
        self.redis = redis
        self.before_ref = before_ref
        self.settings = settings or {}
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
        cwd = self.target.api_dir(self.before_ref) if self.target.is_ours else ROOT
        if self.target.program == "node":
            cwd = BENCH_DIR
        env = self.target.env(self.port, secret, self.redis, self.before_ref, self.settings)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                pinned(SERVER_CORES, self.target.command(self.port, self.control_port, self.redis)),
                cwd=cwd,
                env=env,
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

    async def control(self, path: str) -> dict[str, float]:
        """POST to a bench control route (e.g. /bench/lag/start); its JSON answer."""
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10)) as http:
            response = await http.post(self.control_url + path)
        response.raise_for_status()
        result: dict[str, float] = response.json()
        return result

    async def broadcast(self, room: str, n: int, rate: float = 0, pad: int = 0) -> dict[str, float]:
        """Ask the server to send `n` events to `room`; returns when it has sent them."""
        params: dict[str, str | int | float] = {"room": room, "n": n, "rate": rate, "pad": pad}
        async with httpx.AsyncClient(timeout=httpx.Timeout(600, connect=10)) as http:
            response = await http.post(self.control_url + "/bench/broadcast", params=params)
        response.raise_for_status()
        result: dict[str, float] = response.json()
        return result
