"""Several instances on one Redis: the two-instance pair every cross-instance test uses.

Each instance is `python main.py` in a child process (`ServerProcess`); they share
a channel and key prefix no other test uses. Like every ServerProcess, both logs are
checked once the pair has stopped (conftest's `_clean_server_logs`, `ServerProcess.trouble()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.support.servers import ServerProcess
from tests.support.traffic import rename


@contextlib.asynccontextmanager
async def two_instances(
    redis_url: str, channel: str, **settings: Any
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Instances A and B on `redis_url`, channel and key prefix `channel`, plus `settings`."""
    shared = {"redis_url": redis_url, "socketio_channel": channel, "redis_key_prefix": channel, **settings}
    a, b = ServerProcess(**shared), ServerProcess(**shared)
    await asyncio.gather(a.start(), b.start())
    try:
        yield a, b
    finally:
        await asyncio.gather(a.stop(), b.stop())


async def health(server: ServerProcess) -> dict[str, Any]:
    """The instance's `GET /health`."""
    async with httpx.AsyncClient() as http:
        return (await http.get(server.url + "/health", timeout=5)).json()  # type: ignore[no-any-return]


async def broadcast_from(server: ServerProcess, project_id: uuid.UUID) -> bool:
    """Make `server` broadcast from its own process (POST /api/events calls get_broadcaster())."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return await rename(http, project_id, "Cross-instance")
