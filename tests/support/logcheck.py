"""What a server's log never holds after a clean run: the one log check of the suite.

A server under test writes JSON lines (LOG_FORMAT=json), and whatever escapes
the logging setup goes to the same file as plain text. Trouble is:

* a JSON record at level `error` or `critical`, or one carrying a traceback
  (an `exception` field: `log.exception()`, or `exc_info` at any level);
* a traceback Python printed by itself, reported with the exception line that
  ends it;
* Python's other complaints on stderr: "Exception ignored in ..." (an error in
  a `__del__` or a callback), "coroutine ... was never awaited".

A test that provokes error records on purpose names their events: they are
left out, and nothing else is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

ERROR_LEVELS = frozenset({"error", "critical"})
COMPLAINTS = ("Exception ignored in", "was never awaited")


def _record(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _is_trouble(record: dict[str, Any], expected: tuple[str, ...]) -> bool:
    if expected and str(record.get("event", "")).startswith(expected):
        return False
    return str(record.get("level", "")).lower() in ERROR_LEVELS or "exception" in record


def trouble_in(text: str, expected: Iterable[str] = ()) -> list[str]:
    """The trouble in a log's text, one entry per problem (see the module docstring).

    `expected`: error records the run provokes on purpose, by event (ours are names such
    as `event_not_published`; a library's is its message, which this may be the start of).
    """
    allowed = tuple(expected)
    lines = text.splitlines()
    found: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        record = _record(line)
        if record is not None:
            if _is_trouble(record, allowed):
                found.append(line)
        elif line.startswith("Traceback"):
            # The frames are indented; the first line that is not names the exception.
            block = [line]
            while i < len(lines) and lines[i].startswith((" ", "\t")):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])
                i += 1
            found.append("\n".join(block))
        elif any(complaint in line for complaint in COMPLAINTS):
            found.append(line)
    return found
