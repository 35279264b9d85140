"""`pytest --order=reverse` or `--order=shuffle:SEED`: run the tests in another order.

No test may depend on what an earlier one left behind (conftest's autouse
fixtures reset the process-wide state); running them backwards, or shuffled,
is how that is checked. Tests stay grouped by module either way, so a
module-scoped fixture is still set up once.
"""

from __future__ import annotations

import random
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--order",
        default="file",
        help="file (default), reverse, or shuffle:SEED (modules and the tests in each, shuffled)",
    )


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = str(config.getoption("order"))
    if order == "file":
        return
    if order == "reverse":
        items.reverse()
        return
    kind, _, seed = order.partition(":")
    if kind != "shuffle" or not seed:
        raise pytest.UsageError(f"--order: expected file, reverse or shuffle:SEED, not {order!r}")
    rng = random.Random(seed)
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(_module_of(item), []).append(item)
    groups = list(modules.values())
    rng.shuffle(groups)
    for group in groups:
        rng.shuffle(group)
    items[:] = [item for group in groups for item in group]


def pytest_report_header(config: pytest.Config) -> Any:
    order = config.getoption("order")
    return None if order == "file" else f"test order: {order}"
