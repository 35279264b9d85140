"""The per-publisher budget of POST /api/events, on a clock the test controls."""

from __future__ import annotations

from routers.publish_limit import REPORT_INTERVAL, PublishLimiter, Refusal


def test_a_batch_costs_its_size_and_the_wait_says_when_it_fits() -> None:
    limiter = PublishLimiter(rate=10, burst=100)
    assert limiter.charge("svc", 100, now=0) is None
    refused = limiter.charge("svc", 50, now=0)
    assert refused is not None and refused.retry_after == 5  # 50 events at 10/s
    assert limiter.charge("svc", 50, now=4.9) is not None
    assert limiter.charge("svc", 50, now=5.0) is None


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    limiter = PublishLimiter(rate=1000, burst=100)
    limiter.charge("svc", 100, now=0)
    refused = limiter.charge("svc", 1, now=0)
    assert refused is not None and refused.retry_after == 1  # 1 ms, rounded up


def test_publishers_have_budgets_of_their_own() -> None:
    limiter = PublishLimiter(rate=1, burst=100)
    assert limiter.charge("a", 100, now=0) is None
    assert limiter.charge("a", 1, now=0) is not None
    assert limiter.charge("b", 100, now=0) is None


def test_state_is_bounded_and_the_least_recently_seen_goes_first() -> None:
    limiter = PublishLimiter(rate=1, burst=100, max_tracked=3)
    for name in ("a", "b", "c"):
        limiter.charge(name, 100, now=0)
    limiter.charge("a", 1, now=0)  # a is seen again: b is now the oldest
    for n in range(1000):
        limiter.charge(f"new-{n}", 1, now=0)
        assert len(limiter) <= 3
    limiter = PublishLimiter(rate=1, burst=100, max_tracked=3)
    for name in ("a", "b", "c"):
        limiter.charge(name, 100, now=0)
    limiter.charge("a", 1, now=0)
    limiter.charge("d", 1, now=0)  # evicts b, not a
    assert limiter.charge("a", 1, now=0) is not None  # still empty: a was kept
    assert limiter.charge("b", 100, now=0) is None  # b came back with a full bucket


def test_refusals_are_reported_once_per_interval_with_their_count() -> None:
    limiter = PublishLimiter(rate=1, burst=100)
    limiter.charge("svc", 100, now=0)
    reports = [limiter.charge("svc", 100, now=t) for t in (0, 1, 2, 3)]
    assert [r.report for r in reports if isinstance(r, Refusal)] == [1, 0, 0, 0]
    later = limiter.charge("svc", 100, now=REPORT_INTERVAL + 0.5)
    assert later is not None and later.report == 4  # the three unreported and this one
