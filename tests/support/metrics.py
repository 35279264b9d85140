"""Reading a server's Prometheus metrics in tests: scrape `GET /metrics`, look up a sample."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        response = await http.get(url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def scrape_until(url: str, done: Callable[[Samples], bool], timeout: float = 5) -> Samples:
    """Scrape until `done` holds: disconnects are handled after the client has moved on."""
    deadline = time.monotonic() + timeout
    while not done(samples := await scrape(url)):
        assert time.monotonic() < deadline, samples
        await asyncio.sleep(0.05)
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
