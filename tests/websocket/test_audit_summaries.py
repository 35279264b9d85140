"""Audit summaries: the first refusal of a kind at once, its repeats as one counted line per interval."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from tests.support.audit import refusals
from websocket import audit
from websocket.audit import OTHER_ADDRESSES, Summaries
from websocket.protocol.errors import ErrorCode


@pytest.fixture
def summaries(monkeypatch: pytest.MonkeyPatch) -> Summaries:
    """A private Summaries behind audit.denied, its timer off: the tests call flush() themselves."""
    private = Summaries()
    private._task = object()  # type: ignore[assignment]  # "running", without a timer
    monkeypatch.setattr(audit, "summaries", private)
    return private


def refuse(address: str, code: ErrorCode = ErrorCode.AUTH_INVALID, user: str | None = None) -> None:
    audit.denied("websocket_refused", code, client_addr=address, user_id=user, reason="bad token")


def test_repeats_are_counted_and_written_once_per_interval(summaries: Summaries) -> None:
    with capture_logs() as logs:
        for _ in range(50):
            refuse("10.0.0.1")
        refuse("10.0.0.2")
        refuse("10.0.0.1", ErrorCode.AUTH_EXPIRED)
        assert [(e["client_addr"], e["code"]) for e in logs] == [
            ("10.0.0.1", "AUTH_INVALID"), ("10.0.0.2", "AUTH_INVALID"), ("10.0.0.1", "AUTH_EXPIRED"),
        ]  # fmt: skip
        assert logs[0]["reason"] == "bad token"  # the first line carries the detail
        summaries.flush()
    summary = logs[3:]
    assert summary == [
        {
            "event": "websocket_refused", "log_level": "warning", "code": "AUTH_INVALID",
            "client_addr": "10.0.0.1", "repeated": 49, "interval_s": summaries.interval,
        }
    ]  # fmt: skip
    assert refusals(logs) == 52


def test_a_quiet_kind_is_forgotten_and_logged_at_once_again(summaries: Summaries) -> None:
    with capture_logs() as logs:
        refuse("10.0.0.1")
        refuse("10.0.0.1")
        summaries.flush()  # one summary (repeated 1)
        summaries.flush()  # a quiet interval: nothing written, the kind forgotten
        refuse("10.0.0.1")
    assert [e.get("repeated") for e in logs] == [None, 1, None]


def test_users_are_kinds_of_their_own(summaries: Summaries) -> None:
    with capture_logs() as logs:
        refuse("10.0.0.1", user="alice")
        refuse("10.0.0.1", user="bob")
        refuse("10.0.0.1", user="alice")
        summaries.flush()
    assert [(e["user_id"], e.get("repeated")) for e in logs] == [("alice", None), ("bob", None), ("alice", 1)]


def test_memory_is_bounded_and_nothing_is_lost(summaries: Summaries) -> None:
    summaries.max_kinds = 10
    with capture_logs() as logs:
        for i in range(1000):
            refuse(f"10.0.{i // 256}.{i % 256}")
        assert len(summaries._repeats) == 11  # ten kinds, and one for everyone else
        summaries.flush()
    assert len(logs) == 12  # ten addresses, the first of the others, one summary of the rest
    assert logs[-1]["client_addr"] == OTHER_ADDRESSES and logs[-1]["repeated"] == 989
    assert refusals(logs) == 1000


async def test_stopping_writes_what_was_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "summaries", Summaries())
    audit.start_summaries(3600, 100)  # an interval that will not end during this test
    try:
        with capture_logs() as logs:
            for _ in range(5):
                refuse("10.0.0.9")
            assert len(logs) == 1
            await audit.stop_summaries()
    finally:
        await audit.stop_summaries()
    assert [e.get("repeated") for e in logs] == [None, 4]
    with capture_logs() as after:
        refuse("10.0.0.9")
        refuse("10.0.0.9")
    assert len(after) == 2  # stopped: every refusal written as it happens
