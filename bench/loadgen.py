"""Python side of the load generator (loadgen.mjs): start it, send it commands.

Tokens are real JWTs minted with the server's own `mint_token`, written to a
file the Node process reads, so authentication is exactly what clients do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from bench.procs import BENCH_DIR, LOAD_CORES, WORK_DIR, pinned

NAMESPACE = "/ws"
BENCH_SCOPES = ("projects:read", "agents:read", "workflows:read")


def mint_tokens(secret: str, count: int) -> Path:
    """`count` distinct users' access tokens, as a JSON list in a file."""
    from websocket.access.tokens import mint_token

    tokens = [
        mint_token(
            secret,
            sub=f"bench-{i}",
            email=f"bench-{i}@example.com",
            scopes=BENCH_SCOPES,
            ttl_seconds=6 * 3600,
        )
        for i in range(count)
    ]
    path = WORK_DIR / "tokens.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens))
    return path


class LoadGenError(RuntimeError):
    pass


class LoadGen:
    """One Node process holding the clients of one measurement."""

    def __init__(
        self, tokens_file: Path, source_addresses: list[str], deflate: bool = True, first_token: int = 0
    ) -> None:
        self.tokens_file = tokens_file
        self.source_addresses = source_addresses
        self.deflate = deflate
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self.opened = first_token  # next token to use: each client gets its own user

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> LoadGen:
        self.proc = await asyncio.create_subprocess_exec(
            *pinned(LOAD_CORES, ["node", str(BENCH_DIR / "loadgen.mjs")]),
            cwd=BENCH_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        ready = await self._read_line(30)
        if not ready.get("ready"):
            raise LoadGenError(f"load generator did not start: {ready}")
        return self

    async def _read_line(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise LoadGenError("load generator exited")
        result: dict[str, Any] = json.loads(line)
        return result

    async def call(self, cmd: str, timeout: float = 600, **args: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        request_id = next(self._ids)
        self.proc.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}).encode() + b"\n")
        await self.proc.stdin.drain()
        reply = await self._read_line(timeout)
        if not reply.get("ok") or reply.get("id") != request_id:
            raise LoadGenError(f"{cmd} failed: {reply.get('error', reply)}")
        return reply

    async def connect(
        self, url: str, count: int, room: str | None = None, concurrency: int = 100, timeout_ms: int = 30_000
    ) -> dict[str, Any]:
        """Open `count` more clients (and subscribe them to `room`)."""
        reply = await self.call(
            "connect",
            url=url,
            namespace=NAMESPACE,
            tokens_file=str(self.tokens_file),
            offset=self.opened,
            count=count,
            concurrency=concurrency,
            room=room,
            deflate=self.deflate,
            local_addresses=self.source_addresses,
            timeout_ms=timeout_ms,
        )
        self.opened += count
        return reply

    async def expect(self, per_client: int) -> dict[str, Any]:
        return await self.call("expect", per_client=per_client)

    async def collect(self, idle_ms: int, deadline_ms: int) -> dict[str, Any]:
        return await self.call(
            "collect", idle_ms=idle_ms, deadline_ms=deadline_ms, timeout=deadline_ms / 1000 + 30
        )

    async def disconnect_all(self, timeout_ms: int = 60_000) -> dict[str, Any]:
        return await self.call("disconnect_all", namespace=NAMESPACE, timeout_ms=timeout_ms)

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def ensure_node_modules() -> None:
    """`npm ci` in bench/ when the pinned packages are missing or older than the lock file."""
    import shutil
    import subprocess

    marker = BENCH_DIR / "node_modules" / ".package-lock.json"
    lock = BENCH_DIR / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        sys.exit("error: Node.js and npm are needed (load generator and the Node socket.io reference)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH_DIR, check=True)
