"""Reading the audit trail of a server under test, summaries included.

A refusal is either a line of its own or counted in a later summary line of
the same kind (`repeated: n`, see websocket/audit.py); counting lines alone
would undercount a flood, and counting before the server has written its
summaries (at the end of each interval, and when it stops) would too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Record = dict[str, Any]


def audit_lines(records: Iterable[Record]) -> list[Record]:
    return [record for record in records if record.get("logger") == "audit"]


def refusals(lines: Iterable[Record], where: Callable[[Record], bool] = lambda _: True) -> int:
    """How many refusals `lines` stand for: one per line, or the `repeated` a summary counts."""
    return sum(int(line.get("repeated", 1)) for line in lines if where(line))


def summaries(lines: Iterable[Record]) -> list[Record]:
    return [line for line in lines if "repeated" in line]
