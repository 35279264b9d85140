"""Who is connected to a room, on every instance; when an agent comes and goes.

Each instance counts its own connections per (room, user) in memory. The
memory backend answers from those counts alone; the Redis backend
(in_redis.py) also writes them to Redis so that every instance can
answer for all, and so that an instance's counts vanish by themselves when it
stops heartbeating.

Agents: a connection whose role is `agent` also counts in the agent's online
tally; the first connection anywhere makes the server broadcast
`agent.connected`, the last one `agent.disconnected`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

AGENT_ONLINE = "agent-online:"  # presence key prefix of agents' online tallies; not a Socket.IO room

AgentGone = Callable[[str, str], Awaitable[None]]  # (agent_id, reason)


class Presence(Protocol):
    async def add(self, user_id: str, rooms: Iterable[str]) -> None: ...

    async def remove(self, user_id: str, rooms: Iterable[str]) -> None: ...

    async def members(self, room: str) -> dict[str, int]: ...

    async def agent_online(self, agent_id: str) -> bool:
        """Count an agent connection; True when it is the agent's first anywhere."""
        ...

    async def agent_offline(self, agent_id: str) -> bool:
        """Uncount an agent connection; True when it was the agent's last anywhere."""
        ...

    async def start(self, on_agent_gone: AgentGone) -> None: ...

    async def stop(self) -> None: ...


class LocalCounts:
    """This instance's connections per room and user: the truth every backend starts from."""

    def __init__(self) -> None:
        self.rooms: dict[str, Counter[str]] = {}

    def change(self, user_id: str, rooms: Iterable[str], delta: int) -> list[str]:
        """Apply `delta`; return the rooms whose count for the user reached zero or left it."""
        crossed = []
        for room in rooms:
            counts = self.rooms.setdefault(room, Counter())
            before = counts[user_id]
            counts[user_id] = max(0, before + delta)
            if (before == 0) != (counts[user_id] == 0):
                crossed.append(room)
            if counts[user_id] == 0:
                del counts[user_id]
                if not counts:
                    del self.rooms[room]
        return crossed

    def of(self, room: str) -> dict[str, int]:
        return dict(self.rooms.get(room, {}))
