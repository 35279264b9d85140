"""Who is connected to this instance, and what each connection may do.

The registry is the server's own view of its connections (python-socketio's
manager knows sids and rooms, not users): it answers "which connections does
user X have here" in O(1) and holds each connection's principal.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from websocket.access.tokens import Principal
from websocket.limits.connection import CommandLimiter
from websocket.limits.replay_budget import ReplayBudget
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.errors import ErrorCode
from websocket.protocol.paths import NAMESPACE


@dataclass(slots=True, eq=False)
class Connection:
    sid: str
    user: Principal
    client_addr: str
    transport: str = "polling"
    connected_at: float = field(default_factory=time.time)
    auto_rooms: frozenset[str] = frozenset()
    limiter: CommandLimiter | None = None
    replay: ReplayBudget | None = None  # created on its first `subscribe {since}`
    # Set once the server has decided to close it: one goodbye, not one per command in flight.
    closing: bool = False


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_sid: dict[str, Connection] = {}
        self._by_user: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._by_sid)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_sid.values()))

    def add(self, conn: Connection) -> None:
        self._by_sid[conn.sid] = conn
        self._by_user.setdefault(conn.user.id, set()).add(conn.sid)

    def remove(self, sid: str) -> Connection | None:
        conn = self._by_sid.pop(sid, None)
        if conn is not None:
            sids = self._by_user.get(conn.user.id)
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del self._by_user[conn.user.id]
        return conn

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def of_user(self, user_id: str) -> list[Connection]:
        return [self._by_sid[sid] for sid in self._by_user.get(user_id, ())]

    def count_of_user(self, user_id: str) -> int:
        return len(self._by_user.get(user_id, ()))


class ConnectionOps(Protocol):
    """What revocation, token expiry, the flood cut-off and the drain may do to a connection here.

    Implemented once, by `ConnectionControl` (control.py), built in main.py.
    """

    def subscriptions(self, sid: str) -> list[str]: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def send_to(self, sid: str, event: OutboundEvent, *aliases: str) -> None: ...

    async def close_with(self, sid: str, code: ErrorCode, message: str) -> None: ...


def subscription_count(registry: ConnectionRegistry, manager: Any) -> int:
    """Rooms joined by subscribe, over this instance's connections (automatic rooms excluded)."""
    return sum(
        len(set(manager.get_rooms(conn.sid, NAMESPACE)) - conn.auto_rooms - {conn.sid}) for conn in registry
    )
