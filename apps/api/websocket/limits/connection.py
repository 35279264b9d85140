"""Per-instance, per-user and per-connection limits, and the command rate limiter.

A connection's commands pass through a token bucket (`COMMAND_RATE` per
second, bursts of `COMMAND_BURST`). A command over the limit is refused with
`RATE_LIMITED` and costs a strike; strikes drain at one per second, and a
connection that runs out of them (`COMMAND_FLOOD_LIMIT` refusals beyond what
has drained) is disconnected: it is flooding, not merely bursty. Events the
server sends to the connection never pass through any of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from websocket.limits.buckets import TokenBucket

STRIKES_DRAINED_PER_SECOND = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 10_000
    max_connections_per_user: int = 20
    max_subscriptions: int = 100
    command_rate: float = 20.0
    command_burst: int = 40
    command_flood_limit: int = 100

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            max_connections=settings.max_connections,
            max_connections_per_user=settings.max_connections_per_user,
            max_subscriptions=settings.max_subscriptions_per_connection,
            command_rate=settings.command_rate,
            command_burst=settings.command_burst,
            command_flood_limit=settings.command_flood_limit,
        )

    def limiter(self) -> CommandLimiter:
        return CommandLimiter(self.command_rate, self.command_burst, self.command_flood_limit)


class Verdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"
    DISCONNECT = "disconnect"


class CommandLimiter:
    """One connection's command budget and its flood budget."""

    __slots__ = ("commands", "strikes")

    def __init__(self, rate: float, burst: int, flood_limit: int, now: float | None = None) -> None:
        self.commands = TokenBucket(rate, burst, now)
        self.strikes = TokenBucket(STRIKES_DRAINED_PER_SECOND, flood_limit, now)

    def check(self, now: float | None = None) -> Verdict:
        if self.commands.take(now):
            return Verdict.ALLOW
        if self.strikes.take(now):
            return Verdict.REFUSE
        return Verdict.DISCONNECT
