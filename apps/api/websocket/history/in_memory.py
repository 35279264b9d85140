"""Room history of a single instance, in this process's memory (the rules: positions.py)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from websocket.history.positions import NO_STREAM, Position, Recovery, StoredEvent, new_epoch, recover
from websocket.protocol.envelope import OutboundEvent


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
            entries.append(StoredEvent(stream.offset, event.name, event.key, envelope, stream.touched))
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
