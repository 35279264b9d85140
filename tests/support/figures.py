"""Figures the reliability tests measure, printed at the end of the test run.

A test calls `record("soak", "honest events expected 1200, received 1200")`;
pytest prints every recorded line in a "reliability figures" section of its
summary (OPERATIONS.md's "Reliability" section quotes them).
"""

from __future__ import annotations

from typing import Any

_lines: list[str] = []


def record(topic: str, text: str) -> None:
    _lines.append(f"{topic}: {text}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _lines:
        terminalreporter.section("reliability figures")
        for line in _lines:
            terminalreporter.write_line(line)
