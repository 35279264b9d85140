"""The replay budget: bytes per minute, refilled continuously; a refused replay still costs its read."""

from __future__ import annotations

from websocket.limits.replay_budget import ReplayBudget

MB = 1024 * 1024


def test_replays_are_sent_while_the_budget_covers_them() -> None:
    budget = ReplayBudget(4 * MB, now=0)
    assert [budget.charge(MB, now=0) for _ in range(5)] == [True, True, True, True, False]


def test_a_refused_replay_puts_the_budget_in_debt_so_the_next_ones_read_nothing() -> None:
    budget = ReplayBudget(4 * MB, now=0)
    assert not budget.charge(5 * MB, now=0)  # read, then refused: charged anyway
    assert budget.in_debt(now=0)
    assert budget.in_debt(now=10)  # 10 s refill ~0.67 MB: still below zero
    assert not budget.in_debt(now=16)  # one minute's worth repays at most one minute's debt
    assert budget.charge(0, now=16)


def test_the_budget_refills_continuously_up_to_one_minute() -> None:
    budget = ReplayBudget(6 * MB, now=0)
    assert budget.charge(6 * MB, now=0)
    assert not budget.charge(MB, now=5)  # 5 s: 0.5 MB back
    assert budget.charge(MB // 2, now=25)  # debt 0.5 MB repaid, then 1.5 MB more
    assert not budget.charge(7 * MB, now=3600)  # never more than a minute's worth at once


def test_a_zero_budget_resends_nothing_but_lets_an_up_to_date_client_resume() -> None:
    budget = ReplayBudget(0, now=0)
    assert budget.charge(0, now=0)
    assert not budget.charge(1, now=0)
    assert not budget.in_debt(now=0)  # nothing to repay: history is still read, to tell the client
