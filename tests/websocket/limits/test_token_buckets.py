"""Token buckets, the command limiter and the revocation memory, on a fake clock."""

from __future__ import annotations

import time

import pytest

from websocket.access.revocation import Revocation, RevocationList
from websocket.access.tokens import Principal
from websocket.limits.buckets import TokenBucket
from websocket.limits.connection import CommandLimiter, Verdict


def test_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=20, capacity=40, now=0.0)
    assert [bucket.take(now=0.0) for _ in range(41)] == [True] * 40 + [False]
    assert bucket.take(now=0.05) is True  # one token per 50 ms
    assert bucket.take(now=0.05) is False
    assert sum(bucket.take(now=100.0) for _ in range(100)) == 40  # never above capacity


def test_limiter_refuses_then_disconnects_a_flood() -> None:
    limiter = CommandLimiter(rate=20, burst=40, flood_limit=100, now=0.0)
    verdicts = [limiter.check(now=0.0) for _ in range(141)]
    assert verdicts[:40] == [Verdict.ALLOW] * 40
    assert verdicts[40:140] == [Verdict.REFUSE] * 100
    assert verdicts[140] is Verdict.DISCONNECT


def test_a_burst_now_and_then_is_forgiven() -> None:
    limiter = CommandLimiter(rate=20, burst=40, flood_limit=100, now=0.0)
    for second in range(0, 600, 20):  # every 20 s, 60 commands at once: 20 refused, 20 forgiven
        verdicts = [limiter.check(now=float(second)) for _ in range(60)]
        assert Verdict.DISCONNECT not in verdicts
        assert verdicts.count(Verdict.REFUSE) == 20


def principal(user: str = "u1", issued_at: float | None = None) -> Principal:
    return Principal(id=user, email=f"{user}@x", role="user", issued_at=issued_at)


def test_revocation_bars_older_tokens_only() -> None:
    remembered = RevocationList()
    room = "project:550e8400-e29b-41d4-a716-446655440000"
    revocation = Revocation.of_room("u1", room, "removed")
    remembered.remember(revocation)
    assert remembered.bars(principal(issued_at=revocation.at - 5), room)
    assert remembered.bars(principal(issued_at=None), room)  # no iat: cannot prove it is newer
    assert not remembered.bars(principal(issued_at=revocation.at + 1), room)
    assert not remembered.bars(principal("u2", issued_at=0), room)
    assert not remembered.bars(principal(issued_at=0))  # the user as a whole is not barred
    remembered.remember(Revocation.of_user("u1", "disabled"))
    assert remembered.bars(principal(issued_at=0))


def test_revocation_memory_is_bounded() -> None:
    remembered = RevocationList(retention=3600, max_entries=3)
    for user in ("a", "b", "c", "d"):
        remembered.remember(Revocation.of_user(user, "x"))
    assert not remembered.bars(principal("a", issued_at=0))
    assert remembered.bars(principal("d", issued_at=0))
    old = Revocation(action="user", user_id="old", reason="x", at=time.time() - 7200)
    remembered.remember(old)
    assert not remembered.bars(principal("old", issued_at=0))


@pytest.mark.parametrize("room", ["global", "user:u1", "team:x", "project:nope"])
def test_revoking_an_automatic_or_malformed_room_is_a_caller_error(room: str) -> None:
    with pytest.raises(ValueError):
        Revocation.of_room("u1", room, "x")


def test_room_names_are_normalised() -> None:
    upper = "project:550E8400-E29B-41D4-A716-446655440000"
    assert Revocation.of_room("u1", upper, "x").room == upper.lower()
