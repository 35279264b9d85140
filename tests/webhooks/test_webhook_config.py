"""How the webhook endpoint is configured: secret, resolver setting, redeliveries across instances."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest

from tests.support import servers
from tests.support.clients import Client
from tests.support.github import PROJECT_ROOM, deliver, fixture
from tests.support.servers import API_DIR, LiveServer, ServerProcess
from tests.support.tokens import token


async def test_production_without_a_secret_refuses_every_delivery_and_says_why() -> None:
    server = ServerProcess(environment="production", jwt_secret_key="p" * 40, github_webhook_secret="")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await deliver(http, "issues", fixture("issues", "opened"))
            ping = await deliver(http, "ping", fixture("ping", ""))
    finally:
        await server.stop()
    assert response.status_code == ping.status_code == 503
    assert response.json()["detail"]["code"] == "WEBHOOK_NOT_CONFIGURED"
    assert "GITHUB_WEBHOOK_SECRET" in response.json()["detail"]["message"]
    startup = [e for e in server.records() if e.get("event") == "github_webhooks_refused"]
    # Optional and not configured: a warning, once at start, never an error (operators alert on those).
    assert len(startup) == 1 and startup[0]["level"] == "warning"
    assert "GITHUB_WEBHOOK_SECRET" in str(startup[0]["reason"])


async def test_development_without_a_secret_refuses_too_with_a_warning() -> None:
    server = LiveServer(github_webhook_secret="")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            unsigned = await http.post(
                "/webhooks/github",
                json=fixture("issues", "opened"),
                headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4())},
            )
    finally:
        await server.stop()
    assert unsigned.status_code == 503
    assert unsigned.json()["detail"]["code"] == "WEBHOOK_NOT_CONFIGURED"


def test_a_resolver_setting_that_cannot_be_loaded_stops_start_up_with_one_line() -> None:
    for spec, needle in (
        ("examples.routes:no_such_function", "has no attribute"),
        ("no_such_module:resolve", "cannot import"),
        ("examples.routes:REPOSITORY_PROJECTS", "must be an async function"),
        ("not a spec", "module:function"),
    ):
        result = subprocess.run(
            [sys.executable, "main.py"],
            cwd=API_DIR,
            env={"PATH": "/usr/bin:/bin", **servers.test_env(github_project_resolver=spec)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "GITHUB_PROJECT_RESOLVER" in lines[0] and needle in lines[0], result.stderr


async def test_a_redelivery_to_another_instance_is_not_broadcast_again(
    redis_url: str, unique_channel: str
) -> None:
    shared = {"redis_url": redis_url, "socketio_channel": unique_channel, "redis_key_prefix": unique_channel}
    first = ServerProcess(**shared)
    second = ServerProcess(**shared)
    await first.start()
    await second.start()
    watcher = Client()
    try:
        await watcher.connect(second.url, token("watcher", scopes=["projects:read"]))
        await watcher.subscribe(PROJECT_ROOM)
        delivery = str(uuid.uuid4())
        async with httpx.AsyncClient() as http:
            http.base_url = httpx.URL(first.url)
            original = await deliver(
                http, "pull_request", fixture("pull_request", "opened"), delivery=delivery
            )
            http.base_url = httpx.URL(second.url)
            redelivered = await deliver(
                http, "pull_request", fixture("pull_request", "opened"), delivery=delivery
            )
            barrier = await deliver(http, "issues", fixture("issues", "opened"))
        await watcher.wait_for("issue.created")
        assert original.json()["status"] == "broadcast"
        assert redelivered.status_code == 200 and redelivered.json()["status"] == "duplicate"
        assert redelivered.json()["event_id"] == original.json()["event_id"]
        assert barrier.json()["status"] == "broadcast"
        # The original reached the second instance's client through Redis, once; the redelivery
        # to the second instance was not broadcast again.
        received = [name for name, _ in watcher.events if not name.startswith("connection")]
        assert received == ["pr.created", "issue.created"]
    finally:
        await watcher.close()
        await first.stop()
        await second.stop()


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_dedupe_window_must_be_a_positive_number(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=API_DIR,
        env={"PATH": "/usr/bin:/bin", **servers.test_env(dedupe_window=value)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "DEDUPE_WINDOW" in result.stderr
