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
