"""Drive the official JavaScript socket.io-client (tests/js/client.mjs) from Python."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parents[1] / "js"


# Every package of package.json; npm ci installs them all when one is missing.
NODE_PACKAGES = ("socket.io-client", "typescript", "@asyncapi/specs")


def ensure_node_modules() -> None:
    """Install the pinned Node packages from package-lock.json when one is missing."""
    if all((JS_DIR / "node_modules" / package).is_dir() for package in NODE_PACKAGES):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Node.js and npm are required for the JavaScript client tests")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True)


class NodeClient:
    """One Node process holding one or more socket.io-client sockets."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.notices: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> NodeClient:
        ensure_node_modules()
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(JS_DIR / "client.mjs"), cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), 10)
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            if msg.get("type") == "ready":
                self._ready.set()
            elif "id" in msg and msg["id"] in self._pending:
                self._pending.pop(msg["id"]).set_result(msg)
            else:
                self.notices.append(msg)
                self._changed.set()

    async def request(self, op: str, timeout: float = 15, **fields: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self.proc.stdin.write((json.dumps({"id": msg_id, "op": op, **fields}) + "\n").encode())
        await self.proc.stdin.drain()
        return await asyncio.wait_for(future, timeout)

    async def connect(self, url: str, sock: str = "default", **opts: Any) -> dict[str, Any]:
        return await self.request("connect", url=url, opts=opts, sock=sock)

    async def call(self, event: str, payload: Any, sock: str = "default") -> Any:
        reply = await self.request("emit", event=event, args=[payload], ack=True, sock=sock)
        assert reply["ok"], reply
        return reply["ack"][0] if len(reply["ack"]) == 1 else reply["ack"]

    def events(self, event: str, sock: str = "default", kind: str = "event") -> list[Any]:
        """Events received (kind "event") or dispatched by the RoomClient helper (kind "room_event")."""
        return [
            n["args"][0] if len(n["args"]) == 1 else n["args"]
            for n in self.notices
            if n.get("type") == kind and n["event"] == event and n["sock"] == sock
        ]

    def of_kind(self, kind: str, sock: str = "default") -> list[dict[str, Any]]:
        return [n for n in self.notices if n.get("type") == kind and n.get("sock") == sock]

    async def wait_for(
        self, event: str, count: int = 1, sock: str = "default", timeout: float = 10, kind: str = "event"
    ) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(found := self.events(event, sock, kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} {event!r} within {timeout}s: {self.notices[-5:]}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)
        return found

    async def wait_notice(self, kind: str, sock: str = "default", timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for notice in self.notices:
                if notice.get("type") == kind and notice.get("sock") == sock:
                    return notice
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind!r} notice within {timeout}s: {self.notices[-5:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.request("exit", timeout=3)
        try:
            await asyncio.wait_for(self.proc.wait(), 3)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader:
            self._reader.cancel()


NodeFactory = Callable[[], Awaitable[NodeClient]]  # the `node` fixture: node() -> a started NodeClient
