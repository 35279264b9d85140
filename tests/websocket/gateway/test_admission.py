"""Per-address admission: pending-session slots and failed-connect budgets, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from config import SettingsError, load_settings
from websocket.gateway.admission import Admission, FailureThrottle, begin_attempt, end_attempt, note_refusal
from websocket.protocol.errors import ErrorCode


def scope(address: str) -> dict[str, Any]:
    return {"type": "http", "client": (address, 40000)}


def environ(handshake: dict[str, Any]) -> dict[str, Any]:
    return {"asgi.scope": handshake, "REMOTE_ADDR": "127.0.0.1"}


def test_pending_sessions_are_capped_per_address_and_given_back() -> None:
    admission = Admission(pending_per_address=2)
    first, second, third = scope("10.0.0.1"), scope("10.0.0.1"), scope("10.0.0.1")
    assert admission.reserve(first) is None and admission.reserve(second) is None
    refused = admission.reserve(third)
    assert refused is not None and refused.code is ErrorCode.TOO_MANY_HANDSHAKES and refused.retryable
    assert admission.reserve(scope("10.0.0.2")) is None  # another address is not affected

    assert admission.claim("a", environ(first)) and admission.claim("b", environ(second))
    admission.unclaimed(first)  # the handshake requests end: nothing left to give back
    admission.unclaimed(second)
    assert admission.pending("10.0.0.1") == 2
    admission.joined("a")
    assert admission.reserve(third) is None  # room again
    admission.ended("b")
    admission.ended("b")  # twice (disconnect event, then the timer): counted once
    admission.unclaimed(third)  # Engine.IO refused it (origin, say): the reservation is given back
    assert admission.pending("10.0.0.1") == 0


def test_one_ipv6_host_is_one_address_whatever_address_of_its_64_it_uses() -> None:
    admission = Admission(pending_per_address=2, failure_rate=0.5, failure_burst=2)
    host = [scope(f"2001:db8:0:1::{n:x}") for n in range(1, 4)]
    assert admission.reserve(host[0]) is None and admission.reserve(host[1]) is None
    refused = admission.reserve(host[2])
    assert refused is not None and refused.code is ErrorCode.TOO_MANY_HANDSHAKES
    assert admission.pending("2001:db8:0:1::ffff") == 2
    assert admission.reserve(scope("2001:db8:0:2::1")) is None  # the next /64: another site
    for n in range(2):  # guesses from two addresses of the host drain one budget
        admission.failed(
            f"s{n}",
            f"2001:db8:0:1::{n + 10:x}",
            ErrorCode.AUTH_INVALID,
        )
    assert admission.throttled("2001:db8:0:1::99") > 0
    assert admission.throttled("2001:db8:0:2::1") == 0
    per_address = Admission(pending_per_address=1, ipv6_prefix=128)
    assert (
        per_address.reserve(scope("2001:db8::1")) is None
        and per_address.reserve(scope("2001:db8::2")) is None
    )


def test_a_reservation_nobody_claims_is_given_back() -> None:
    admission = Admission(pending_per_address=1)
    handshake = scope("10.0.0.1")
    assert admission.reserve(handshake) is None
    admission.unclaimed(handshake)
    assert admission.tracked() == {"reserved": 0, "addresses": 0, "sessions": 0, "failures": 0}


def test_claim_without_the_guard_still_counts_and_caps() -> None:
    admission = Admission(pending_per_address=1)
    assert admission.claim("a", environ(scope("10.0.0.1")))
    assert not admission.claim("b", environ(scope("10.0.0.1")))  # raced past the guard: over the cap
    admission.ended("a")
    assert admission.tracked() == {"reserved": 0, "addresses": 0, "sessions": 0, "failures": 0}


def test_the_instance_pool_is_checked_before_the_address() -> None:
    sessions = 10
    admission = Admission(pending_per_address=5, max_sessions=10, sessions=lambda: sessions)
    refused = admission.reserve(scope("10.0.0.1"))
    assert refused is not None and refused.code is ErrorCode.SERVER_FULL
    sessions = 9
    assert admission.reserve(scope("10.0.0.1")) is None
    refused = admission.reserve(scope("10.0.0.2"))  # the handshake in flight holds the last slot
    assert refused is not None and refused.code is ErrorCode.SERVER_FULL


def test_failed_connect_budget_refills_and_forgets_old_addresses() -> None:
    throttle = FailureThrottle(rate=0.5, burst=3, max_addresses=2)
    for _ in range(3):
        assert throttle.wait("a", now=0.0) == 0
        throttle.charge("a", now=0.0)
    assert throttle.wait("a", now=0.0) == 2.0  # one failure forgiven every 2 s
    assert throttle.wait("a", now=1.0) == 1.0
    assert throttle.wait("a", now=2.0) == 0
    throttle.charge("b", now=2.0)
    throttle.charge("c", now=2.0)  # a third address: the least recently charged ("a") is forgotten
    assert len(throttle) == 2 and throttle.wait("a", now=2.0) == 0


def test_guesses_cost_the_address_and_every_refusal_costs_the_session() -> None:
    admission = Admission(failures_per_session=3, failure_burst=2, failure_rate=0.001)
    assert not admission.failed("s0", "10.0.0.1", ErrorCode.INTERNAL_ERROR)  # our fault
    assert not admission.failed("s1", "10.0.0.1", ErrorCode.AUTH_EXPIRED)  # not a guess
    assert not admission.failed("s1", "10.0.0.1", ErrorCode.SERVER_FULL)  # says nothing about the client
    assert admission.throttled("10.0.0.1") == 0
    assert admission.failed("s1", "10.0.0.1", ErrorCode.AUTH_INVALID)  # third refusal: session done
    assert not admission.failed("s2", "10.0.0.1", None)  # refused without a code: counted as a guess
    assert admission.throttled("10.0.0.1") > 0
    assert admission.throttled("10.0.0.2") == 0
    for sid in ("s0", "s1", "s2"):
        admission.ended(sid)
    assert admission.tracked()["failures"] == 0


def test_a_refusing_handler_reports_its_code_to_the_attempt_in_progress() -> None:
    assert note_refusal(ErrorCode.AUTH_INVALID) == "unknown"  # outside a connect: harmless
    attempt, token = begin_attempt("10.0.0.1")
    try:
        assert note_refusal(ErrorCode.INVALID_NAMESPACE) == "10.0.0.1"
    finally:
        end_attempt(token)
    assert attempt.code is ErrorCode.INVALID_NAMESPACE


def test_settings_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")  # no .env file
    settings = load_settings()
    assert settings.connect_timeout == 5
    assert settings.max_pending_sessions_per_address == 100
    assert (settings.connect_failures_per_session, settings.connect_failure_burst) == (3, 20)
    assert settings.connect_failure_rate == 0.5
    assert (settings.max_tracked_addresses, settings.audit_summary_interval) == (10_000, 60)
    assert settings.address_limit_ipv6_prefix == 64
    for name, bad in (
        ("max_pending_sessions_per_address", 0), ("connect_failures_per_session", 0),
        ("connect_failure_burst", 0), ("connect_failure_rate", 0), ("max_tracked_addresses", 10),
        ("audit_summary_interval", 0), ("address_limit_ipv6_prefix", 16), ("address_limit_ipv6_prefix", 129),
    ):  # fmt: skip
        with pytest.raises(SettingsError, match=name.upper()):
            load_settings(**{name: bad})
