"""Room history: positions, bounded storage, and the rules of resuming.

Every event broadcast to a room (unless its type replays `none`) gets the
room's next offset. The room's stream has an epoch: a new epoch means its
positions were lost (Redis flushed, or the room idle for `meta_ttl`), so
positions from the old one mean nothing. A stream keeps at most `size`
events and none older than `ttl` seconds; its position (epoch and offset)
lives much longer (`meta_ttl`, as Centrifugo's history_meta_ttl), so a quiet
room does not look reset to a client that missed nothing.

`MemoryHistory` serves a single instance; `RedisHistory` (history_redis.py)
shares the same rules across instances.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from websocket.envelope import OutboundEvent
from websocket.replay import compact


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Position:
    offset: int
    epoch: str

    def to_wire(self) -> dict[str, Any]:
        return {"offset": self.offset, "epoch": self.epoch}


NO_STREAM = Position(0, "")


@dataclass(frozen=True, slots=True)
class StoredEvent:
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


@dataclass(slots=True)
class _Stream:
    epoch: str
    offset: int
    entries: deque[StoredEvent]
    touched: float


class MemoryHistory:
    """History of a single instance, in this process's memory."""

    def __init__(
        self, size: int, ttl: float, meta_ttl: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.meta_ttl = meta_ttl
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._appends = 0

    def _existing(self, room: str) -> _Stream | None:
        stream = self._streams.get(room)
        if stream is not None and self._clock() - stream.touched > self.meta_ttl:
            del self._streams[room]
            return None
        return stream

    def _stream(self, room: str) -> _Stream:
        stream = self._existing(room)
        if stream is None:
            stream = self._streams[room] = _Stream(
                new_epoch(), 0, deque(maxlen=self.size or 1), self._clock()
            )
        return stream

    def append(self, room: str, event: OutboundEvent) -> tuple[bytes, int | None]:
        """The room's envelope for `event` and its offset (None when the type is not kept)."""
        if not event.replay.stored:
            return event.envelope(room), None
        stream = self._stream(room)
        stream.offset += 1
        stream.touched = self._clock()
        envelope = event.envelope(room, stream.offset, stream.epoch)
        if self.size:
            entries = stream.entries
            entries.append(StoredEvent(stream.offset, event.type.value, event.key, envelope, stream.touched))
            while entries[0].at < stream.touched - self.ttl:
                entries.popleft()
        self._appends += 1
        if self._appends % 1024 == 0:
            self._forget_idle()
        return envelope, stream.offset

    async def position(self, room: str) -> Position:
        stream = self._existing(room)
        return Position(stream.offset, stream.epoch) if stream else NO_STREAM

    async def since(self, room: str, since: Position, full: bool = False) -> Recovery:
        stream = self._existing(room)
        if stream is None:
            return recover(NO_STREAM, since, [], ttl=self.ttl, now=self._clock(), full=full)
        missed = [entry for entry in stream.entries if entry.offset > since.offset]
        position = Position(stream.offset, stream.epoch)
        return recover(position, since, missed, ttl=self.ttl, now=self._clock(), full=full)

    def _forget_idle(self) -> None:
        cutoff = self._clock() - self.meta_ttl
        for room in [room for room, stream in self._streams.items() if stream.touched < cutoff]:
            del self._streams[room]
