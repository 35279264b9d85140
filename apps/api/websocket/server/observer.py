"""What the server reports as it works: the interface its metrics implement.

The server counts connects, disconnects, refusals and subscriptions through
this small interface; observability/metrics.py implements it with Prometheus
counters and main.py hands one in, so the core never imports the metrics
library or the module that renders them.
"""

from __future__ import annotations

from typing import Protocol


class ServerObserver(Protocol):
    def connected(self) -> None: ...

    def disconnected(self, reason: object) -> None: ...

    def refused(self, code: str) -> None: ...

    def subscribed(self, room: str) -> None: ...


class NoObserver:
    """Reports nothing (a server built without metrics, as some tests build it)."""

    def connected(self) -> None:
        return None

    def disconnected(self, reason: object) -> None:
        return None

    def refused(self, code: str) -> None:
        return None

    def subscribed(self, room: str) -> None:
        return None
