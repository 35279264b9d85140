"""Figures collected by one invocation: every run's value, medians, ratios, problems."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Value = float | None


@dataclass
class Results:
    command: str
    started: str  # ISO date and time (UTC)
    plan: dict[str, Any]
    machine: dict[str, str]
    targets: list[str]
    # metric key -> target key -> one value per run
    values: dict[str, dict[str, list[Value]]] = field(default_factory=dict)
    # scenario -> target -> why it has no figures ("skipped: ..." or "error: ...")
    problems: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    finished: str = ""

    def add(self, target: str, figures: dict[str, Value]) -> None:
        for key, value in figures.items():
            self.values.setdefault(key, {}).setdefault(target, []).append(value)

    def problem(self, scenario: str, target: str, text: str) -> None:
        runs = self.problems.setdefault(scenario, {})
        runs.setdefault(target, text)  # the first run's reason is representative

    def median(self, key: str, target: str) -> Value:
        runs = [v for v in self.values.get(key, {}).get(target, []) if v is not None]
        return statistics.median(runs) if runs else None

    def runs(self, key: str, target: str) -> list[Value]:
        return self.values.get(key, {}).get(target, [])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Results:
        return cls(**json.loads(path.read_text()))


def ratio(ours: Value, reference: Value) -> Value:
    if ours is None or reference is None or reference == 0:
        return None
    return ours / reference
