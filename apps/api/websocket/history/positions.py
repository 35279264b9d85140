"""Room history: positions, bounded storage, and the rules of resuming.

Every event broadcast to a room (unless its type replays `none`) gets the
room's next offset. The room's stream has an epoch: a new epoch means its
positions were lost (Redis flushed, or the room idle for `meta_ttl`), so
positions from the old one mean nothing. A stream keeps at most `size`
events and none older than `ttl` seconds; its position (epoch and offset)
lives much longer (`meta_ttl`, as Centrifugo's history_meta_ttl), so a quiet
room does not look reset to a client that missed nothing.

`MemoryHistory` (in_memory.py) serves a single instance; `RedisHistory` (in_redis.py)
shares the same rules across instances.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from websocket.protocol.replay import compact


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Position:
    offset: int
    epoch: str

    def to_wire(self) -> dict[str, Any]:
        return {"offset": self.offset, "epoch": self.epoch}


NO_STREAM = Position(0, "")


class StoredEvent(NamedTuple):
    """One kept event (a tuple: made for every event a history keeps, at a third of a dataclass's cost)."""

    offset: int
    type: str
    key: str
    envelope: bytes
    at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class Recovery:
    recovered: bool
    position: Position
    events: list[StoredEvent] = field(default_factory=list)
    reason: str | None = None  # why not: epoch_changed, history_expired, ahead_of_stream


def recover(
    position: Position, since: Position, missed: Sequence[StoredEvent], *, ttl: float, now: float, full: bool
) -> Recovery:
    """Decide a resume from the stream's position and the stored events after `since`.

    An empty epoch stands for "no stream yet": a client that subscribed before
    the room's first event holds (0, "") and resumes from the stream's start.
    """
    if since.epoch == "" and since.offset == 0:
        since = Position(0, position.epoch)
    if since.epoch != position.epoch:
        return Recovery(False, position, reason="epoch_changed")
    if since.offset > position.offset:
        return Recovery(False, position, reason="ahead_of_stream")
    if since.offset == position.offset:
        return Recovery(True, position)
    complete = (
        bool(missed)
        and missed[0].offset == since.offset + 1
        and missed[-1].offset == position.offset
        and missed[0].at >= now - ttl
    )
    if not complete:
        return Recovery(False, position, reason="history_expired")
    return Recovery(True, position, compact(missed, full=full))  # type: ignore[arg-type]


class History(Protocol):
    async def position(self, room: str) -> Position: ...

    async def since(self, room: str, since: Position, full: bool = False) -> Recovery: ...
