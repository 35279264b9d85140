"""How much history one connection may be re-sent: `REPLAY_BYTES_PER_MINUTE`.

`subscribe {room, since}` re-sends what the client missed. Without a budget a
client could ask again and again (a room it is already in, `since: {offset:
0}`) and have the server read and queue the same history each time: 100 such
commands once raised RSS by 84 MB in 4 s. Each connection has a bucket of
`REPLAY_BYTES_PER_MINUTE` bytes, refilled continuously. Every replay is
charged the bytes it queues, whether it is sent or refused: a refusal after
reading history still cost the read, and charging it lets the bucket run into
debt (down to minus one minute's worth), during which further `since`
subscribes are refused before anything is read. With a budget of 0 nothing
is ever re-sent, but a client that missed nothing still resumes.
"""

from __future__ import annotations

import time


class ReplayBudget:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, per_minute: int, now: float | None = None) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.tokens = self.capacity
        self.stamp = time.monotonic() if now is None else now

    def _refill(self, now: float | None) -> None:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def in_debt(self, now: float | None = None) -> bool:
        """Nothing left: a replay would be refused whatever its size, so history need not be read."""
        self._refill(now)
        return self.tokens < 0

    def charge(self, cost: int, now: float | None = None) -> bool:
        """Take `cost` bytes; True when the budget covered them (the replay may be sent)."""
        self._refill(now)
        covered = cost <= self.tokens
        self.tokens = max(-self.capacity, self.tokens - cost)
        return covered
