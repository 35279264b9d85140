"""How fast one publisher may send events through `POST /api/events`.

Each publisher (the token's `sub`) has a token bucket of events on each
instance: `PUBLISH_RATE` per second on average, up to `PUBLISH_BURST` at once;
a batch costs its number of events. A request over the budget publishes
nothing and is answered 429 with `Retry-After` (whole seconds until the batch
would fit). Per instance, like every other limit here: behind a load balancer
a publisher gets the rate once per instance it reaches.

State is bounded: buckets of at most `MAX_TRACKED` publishers are kept, the
least recently seen dropped first. A dropped bucket had usually refilled
(the publisher was idle), and one that had not comes back full: with more
than `MAX_TRACKED` publishers busy at once, the limit loosens rather than
memory growing. Refusals go to the audit log once per publisher per
`REPORT_INTERVAL` seconds, with the number refused since the last line.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from websocket.limits.buckets import TokenBucket

MAX_TRACKED = 10_000
REPORT_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class Refusal:
    retry_after: int  # whole seconds, at least 1: what the Retry-After header says
    report: int  # refusals to log now (this one included); 0 while the publisher's line is recent


@dataclass(slots=True)
class _Publisher:
    bucket: TokenBucket
    unreported: int = 0
    reported_at: float = field(default=-math.inf)


class PublishLimiter:
    def __init__(self, rate: float, burst: int, max_tracked: int = MAX_TRACKED) -> None:
        self.rate = rate
        self.burst = burst
        self.max_tracked = max_tracked
        self._publishers: OrderedDict[str, _Publisher] = OrderedDict()

    def __len__(self) -> int:
        return len(self._publishers)

    def charge(self, publisher: str, events: int, now: float | None = None) -> Refusal | None:
        """Take `events` from `publisher`'s budget: None when they fit, else why not and for how long."""
        now = time.monotonic() if now is None else now
        state = self._publishers.get(publisher)
        if state is None:
            state = self._publishers[publisher] = _Publisher(TokenBucket(self.rate, self.burst, now))
            while len(self._publishers) > self.max_tracked:
                self._publishers.popitem(last=False)
        else:
            self._publishers.move_to_end(publisher)
        if state.bucket.take(now, events):
            return None
        state.unreported += 1
        report = 0
        if now - state.reported_at >= REPORT_INTERVAL:
            report, state.unreported, state.reported_at = state.unreported, 0, now
        return Refusal(max(1, math.ceil(state.bucket.wait(events, now))), report)
