"""The suite's one log check (tests/support/logcheck.py) finds what it should, and only that."""

from __future__ import annotations

import json

from tests.support.logcheck import trouble_in


def line(**record: object) -> str:
    return json.dumps(record)


def test_error_and_critical_records_are_trouble_and_lower_levels_are_not() -> None:
    log = "\n".join(
        [
            line(event="websocket_connect", level="info"),
            line(event="command_refused", level="warning", code="FORBIDDEN"),
            line(event="event_not_published", level="error"),
            line(event="lost_everything", level="critical"),
        ]
    )
    assert [json.loads(found)["event"] for found in trouble_in(log)] == [
        "event_not_published",
        "lost_everything",
    ]


def test_a_record_carrying_a_traceback_is_trouble_at_any_level() -> None:
    log = line(event="retrying", level="warning", exception="Traceback (most recent call last):\n  ...")
    assert trouble_in(log) == [log]


def test_expected_events_are_left_out_and_nothing_else() -> None:
    log = "\n".join(
        [
            line(event="redis_subscription_lost", level="error"),
            line(event="https://evil.example is not an accepted origin. (further ...)", level="error"),
            line(event="redis_publish_failed", level="error"),
        ]
    )
    found = trouble_in(log, ["redis_subscription_lost", "https://evil.example is not an accepted origin"])
    assert [json.loads(f)["event"] for f in found] == ["redis_publish_failed"]


def test_a_plain_traceback_is_reported_with_the_exception_that_ends_it() -> None:
    log = "\n".join(
        [
            line(event="server_started", level="info"),
            "Traceback (most recent call last):",
            '  File "main.py", line 1, in <module>',
            "    boom()",
            "ValueError: boom",
            line(event="server_stopped", level="info"),
        ]
    )
    assert trouble_in(log) == ["\n".join(log.splitlines()[1:5])]


def test_what_python_prints_by_itself_is_trouble_and_other_plain_lines_are_not() -> None:
    log = "\n".join(
        [
            "error: invalid configuration: PORT: not a port",  # a refused start-up, said on purpose
            "Exception ignored in: <function Socket.__del__ at 0x7f>",
            "sys:1: RuntimeWarning: coroutine 'Server.emit' was never awaited",
        ]
    )
    assert trouble_in(log) == log.splitlines()[1:]
