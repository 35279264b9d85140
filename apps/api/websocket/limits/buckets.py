"""A token bucket: the budget every rate limit here is built on."""

from __future__ import annotations

import time


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic() if now is None else now

    def take(self, now: float | None = None, cost: float = 1) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait(self, cost: float = 1, now: float | None = None) -> float:
        """Seconds until `take(cost=cost)` would succeed (0: it would now); takes nothing."""
        now = time.monotonic() if now is None else now
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        return 0.0 if tokens >= cost else (cost - tokens) / self.rate
