"""Presence of a single instance, from its own counts (see counts.py)."""

from __future__ import annotations

from collections.abc import Iterable

from websocket.presence.counts import AGENT_ONLINE, AgentGone, LocalCounts


class MemoryPresence:
    """Presence of a single instance."""

    def __init__(self) -> None:
        self.local = LocalCounts()

    async def add(self, user_id: str, rooms: Iterable[str]) -> None:
        self.local.change(user_id, rooms, +1)

    async def remove(self, user_id: str, rooms: Iterable[str]) -> None:
        self.local.change(user_id, rooms, -1)

    async def members(self, room: str) -> dict[str, int]:
        return self.local.of(room)

    async def agent_online(self, agent_id: str) -> bool:
        return bool(self.local.change(agent_id, [AGENT_ONLINE + agent_id], +1))

    async def agent_offline(self, agent_id: str) -> bool:
        return bool(self.local.change(agent_id, [AGENT_ONLINE + agent_id], -1))

    async def start(self, on_agent_gone: AgentGone) -> None:
        return None

    async def stop(self) -> None:
        return None
