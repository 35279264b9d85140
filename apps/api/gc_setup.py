"""CPython's cyclic garbage collector, tuned for a server holding many long-lived connections.

With the default thresholds (700, 10, 10) the collector runs a young
collection every 700 net allocations and, as connections accumulate, full
collections that walk every object of every connection: while 5,000 clients
connected, a quarter of the server's time went to them. Three changes:

* `gc.freeze()` once the app is built moves everything that exists then
  (modules, classes, the app's routes and models: most of the heap of an
  idle server) out of the collector's sight for good;
* higher thresholds make young collections 70 times rarer, and full ones wait
  for many more middle-generation collections. Garbage without cycles is
  freed at once by reference counting regardless; only cyclic garbage waits
  longer, bounded by the first threshold (50,000 objects);
* `freeze_survivors`: what survives a middle-generation collection (objects
  that lived through two young ones: in practice the state of open
  connections) is frozen too, so no collection walks it again. A collection's
  pause grows with the objects it walks: with the thresholds alone, a
  middle-generation collection walked up to 20 young generations' survivors
  (about a million objects while 10,000 clients connected) and stalled the
  event loop for 410 ms. Frozen objects that later become cyclic garbage
  are not freed; the connection path leaves almost none (ws_protocol.py and
  header_timeout.py break uvicorn's cycles: what a full collection found after
  15,000 connects and disconnects was 129 objects), but a long-polling request
  that lives through two collections leaves python-engineio's per-request class
  frozen. So at most every GC_RECLAIM_INTERVAL seconds, once the frozen heap
  has grown by a quarter since the last time and is not growing now (no
  connect storm in progress), everything is unfrozen and collected: one full
  pause, logged as `gc_reclaimed`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from logging_setup import get_logger

THRESHOLDS = (50_000, 20, 100)
# With survivors frozen after every middle-generation collection, a collection walks
# at most two young generations' objects (20,000): about 30 ms at worst on the bench's
# machine (20,000 as the first threshold: 61 ms), not hundreds.
SURVIVOR_THRESHOLDS = (10_000, 1, 100)
# A reclaim runs when the frozen heap grew by this much since the last one (and
# GC_RECLAIM_INTERVAL has passed): steady connections cost no pause at all.
RECLAIM_GROWTH = 1.25
# ...and not while it grows: a middle collection that froze more than 1 % more than the
# previous one is part of a connect storm, the worst moment for a full pause.
QUIET_GROWTH = 0.01

log = get_logger("gc_setup")


class SurvivorFreezer:
    """gc.callbacks entry: freeze what survived a middle-generation collection; reclaim now and then.

    `gc.get_freeze_count()` walks the whole frozen heap (a million objects with
    10,000 clients), so it is read only once the interval has passed, never
    on every collection.
    """

    def __init__(self, reclaim_interval: float) -> None:
        self.reclaim_interval = reclaim_interval
        self.last_reclaim = time.monotonic()
        self.frozen_after_reclaim = gc.get_freeze_count()
        self.frozen_before: int | None = None  # read at the previous middle collection, once due
        self.pending = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] < 1:
            return
        gc.freeze()
        if self.pending or not self.reclaim_interval:
            return
        if time.monotonic() - self.last_reclaim < self.reclaim_interval:
            return
        frozen, previous = gc.get_freeze_count(), self.frozen_before
        self.frozen_before = frozen
        if previous is None or not self.reclaim_due(frozen, previous):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (start-up): the next collection will ask again
            return
        self.pending = True
        loop.call_soon(self.reclaim)  # not from inside a collection

    def reclaim_due(self, frozen: int, previous: int) -> bool:
        """Interval passed, the frozen heap grew by a quarter, and is not growing now (no ramp)."""
        if not self.reclaim_interval or time.monotonic() - self.last_reclaim < self.reclaim_interval:
            return False
        growing = frozen - previous > QUIET_GROWTH * frozen
        return frozen > RECLAIM_GROWTH * self.frozen_after_reclaim and not growing

    def reclaim(self) -> int:
        """Unfreeze and collect everything (one full pause), then freeze the survivors again."""
        self.pending = False
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        pause_ms = round((time.perf_counter() - started) * 1000, 1)
        self.last_reclaim = time.monotonic()
        self.frozen_after_reclaim = gc.get_freeze_count()
        self.frozen_before = None
        log.info("gc_reclaimed", found=found, frozen=self.frozen_after_reclaim, pause_ms=pause_ms)
        return found


def _uninstall() -> None:
    gc.callbacks[:] = [cb for cb in gc.callbacks if not isinstance(cb, SurvivorFreezer)]


def tune_gc(
    enabled: bool = True, freeze_survivors: bool = False, reclaim_interval: float = 0
) -> tuple[int, int, int]:
    """Freeze the heap built so far and raise the thresholds; return the thresholds in force.

    `freeze_survivors` (only with `enabled`) installs a `SurvivorFreezer` that
    reclaims at most every `reclaim_interval` seconds (0: never).
    """
    _uninstall()
    if enabled:
        gc.collect()  # what is garbage now should not be frozen
        gc.freeze()
        gc.set_threshold(*(SURVIVOR_THRESHOLDS if freeze_survivors else THRESHOLDS))
        if freeze_survivors:
            gc.callbacks.append(SurvivorFreezer(reclaim_interval))
    threshold: tuple[int, int, int] = gc.get_threshold()
    return threshold
