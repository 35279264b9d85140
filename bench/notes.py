"""Notes RESULTS.md adds to the figures: busy machine, saturated load generator, drops."""

from __future__ import annotations

import os

from bench.plan import Plan
from bench.results import Results
from bench.targets import TARGETS

BUSY = 1.0  # 1-minute load average from which other work on the machine is worth a note
SATURATED = 90  # % of a core: above this the load generator may be what limits a rate
CROWDED = 15  # % of the server's core used by other work: worth a note


def add_notes(results: Results, plan: Plan, load_at_start: float) -> None:
    if load_at_start >= BUSY:
        results.notes.append(
            f"The machine was busy with other work (1-minute load average {load_at_start:.2f} before the "
            f"run, on {os.cpu_count()} cores): that work shares the pinned cores, so figures, p99 and max "
            "latencies above all, are noisier than on a quiet machine."
        )
    if plan.runs == 1:
        results.notes.append(
            "One run per figure (e.g. --quick): figures for development only, not for comparison."
        )
    for key, per_target in results.values.items():
        if key.endswith(".load_cpu"):
            for target, runs in per_target.items():
                if any(v is not None and v >= SATURATED for v in runs):
                    results.notes.append(
                        f"{TARGETS[target].label}, {key.rsplit('.', 1)[0]}: the load generator used "
                        f"{max(v or 0 for v in runs):.0f} % of its core, so that rate may be a floor "
                        "set by the load generator rather than by the server."
                    )
        if key.endswith(".other_cpu") and not key.startswith(("redis.", "scale.")):
            # Across instances, the other instance shares the server core by design.
            for target, runs in per_target.items():
                if any(v is not None and v >= CROWDED for v in runs):
                    shown = ", ".join(f"{v:.0f}" for v in runs if v is not None)
                    results.notes.append(
                        f"{TARGETS[target].label}, {key.rsplit('.', 1)[0]}: other work took {shown} % of the "
                        "server's core in the runs (in run order), so the server had less than a full core."
                    )
        if key.endswith((".dropped", ".duplicates", ".forced")):
            for target, runs in per_target.items():
                if any(runs):
                    what = {
                        "dropped": "clients dropped by the server",
                        "duplicates": "duplicate events",
                        "forced": "clients not closed within 60 s of the mass disconnect, then cut",
                    }[key.rsplit(".", 1)[1]]
                    results.notes.append(f"{TARGETS[target].label}, {key.rsplit('.', 1)[0]}: {what} {runs}")
