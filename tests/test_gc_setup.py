"""GC tuning: the start-up heap is frozen and thresholds raised, or nothing changes when off.

In a fresh interpreter, since freezing is for the whole process.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.servers import API_DIR


def tuned(enabled: bool) -> dict[str, object]:
    code = (
        "import gc, json\nfrom gc_setup import tune_gc\n"
        f"thresholds = tune_gc({enabled})\n"
        "print(json.dumps({'thresholds': thresholds, 'frozen': gc.get_freeze_count(),"
        " 'in_force': gc.get_threshold()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=API_DIR, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_tuning_freezes_the_heap_and_raises_thresholds() -> None:
    on = tuned(True)
    assert on["thresholds"] == on["in_force"] == [50_000, 20, 100]
    assert isinstance(on["frozen"], int) and on["frozen"] > 1000


def test_switched_off_it_leaves_cpython_defaults() -> None:
    off = tuned(False)
    assert off["frozen"] == 0
    assert off["thresholds"] == off["in_force"] == [700, 10, 10]


def run_fresh(code: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=API_DIR, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


SURVIVORS = """
import gc, json
from gc_setup import SurvivorFreezer, tune_gc
thresholds = tune_gc(True, True, 0)
start = gc.get_freeze_count()

class Node:
    pass

def ring(n):  # n objects in one reference cycle
    nodes = [Node() for _ in range(n)]
    for a, b in zip(nodes, nodes[1:] + nodes[:1]):
        a.next = b
    return nodes[0]

kept = ring(30_000)                   # lives through a middle-generation collection...
gc.collect(1)
after_middle = gc.get_freeze_count()
kept = None                           # ...then becomes cyclic garbage, frozen
missed = gc.collect()
freezer = next(cb for cb in gc.callbacks if isinstance(cb, SurvivorFreezer))
found = freezer.reclaim()
print(json.dumps({"thresholds": thresholds, "frozen_by_middle": after_middle - start, "missed": missed,
                  "reclaimed": found}))
"""


def test_survivors_of_a_middle_collection_are_frozen_and_a_reclaim_frees_what_died_frozen() -> None:
    result = run_fresh(SURVIVORS)
    assert result["thresholds"] == [10_000, 1, 100]
    assert isinstance(result["frozen_by_middle"], int) and result["frozen_by_middle"] >= 30_000
    assert result["missed"] == 0  # frozen garbage: no collection sees it...
    assert isinstance(result["reclaimed"], int) and result["reclaimed"] >= 30_000  # ...but a reclaim does


DUE = """
import gc, json, time
from gc_setup import SurvivorFreezer
f = SurvivorFreezer(reclaim_interval=60)
f.frozen_after_reclaim = 1000
early = f.reclaim_due(2000, 2000)
f.last_reclaim = time.monotonic() - 61
print(json.dumps({
    "early": early, "grown_quiet": f.reclaim_due(2000, 1995), "grown_growing": f.reclaim_due(2000, 1500),
    "not_grown": f.reclaim_due(1200, 1200), "never": SurvivorFreezer(0).reclaim_due(10**6, 10**6),
}))
"""


def test_a_reclaim_waits_for_the_interval_a_grown_heap_and_the_end_of_a_storm() -> None:
    assert run_fresh(DUE) == {
        "early": False,
        "grown_quiet": True,
        "grown_growing": False,
        "not_grown": False,
        "never": False,
    }
