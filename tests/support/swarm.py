"""Drive tests/js/swarm.mjs: thousands of lean raw Socket.IO clients in one Node process."""

from __future__ import annotations

import asyncio
import itertools
import json
import resource
from typing import Any

import pytest

from tests.support.node import JS_DIR, ensure_node_modules


def raise_fd_limit(needed: int) -> None:
    """Let this process and its children (server, Node) hold `needed` sockets each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the open-files limit is {hard}; this test needs {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class Swarm:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)

    async def start(self) -> Swarm:
        ensure_node_modules()
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(JS_DIR / "swarm.mjs"), cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), 10))
        assert ready == {"type": "ready"}, ready
        return self

    async def request(self, op: str, timeout: float = 120, **fields: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        msg_id = next(self._ids)
        self.proc.stdin.write((json.dumps({"id": msg_id, "op": op, **fields}) + "\n").encode())
        await self.proc.stdin.drain()
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), timeout))
        assert reply["id"] == msg_id and reply["ok"], reply
        return reply

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        try:
            await self.request("exit", timeout=10)
            await asyncio.wait_for(self.proc.wait(), 10)
        except (TimeoutError, AssertionError, json.JSONDecodeError):
            self.proc.kill()
            await self.proc.wait()
