"""`python main.py` as a newcomer and as an operator run it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import httpx
import pytest

from tests.support.clients import Client
from tests.support.net import eventually, free_port
from tests.support.servers import API_DIR, ServerProcess


def bare_env(**extra: str) -> dict[str, str]:
    """The environment of a machine with no configuration for this service at all."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "SYSTEMROOT")}
    return {**keep, **extra}


async def test_starts_with_no_configuration_and_says_where_the_dev_token_is() -> None:
    server = ServerProcess()
    # No HOST either: development listens on loopback by default.
    server.env = bare_env(PORT=str(server.port), LOG_FORMAT="json")
    await server.start()
    try:
        entries = server.records()
        started = [e for e in entries if e.get("event") == "development_token_available"]
        assert started, server.log()
        assert started[0]["token"] == f"export TOKEN=$(curl -s localhost:{server.port}/ws/dev-token.txt)"
        assert started[0]["dashboard"] == f"http://localhost:{server.port}/ws/dashboard"
        assert any(e.get("event") == "jwt_secret_ephemeral" for e in entries)
        assert not any(e.get("event") == "development_mode_exposed" for e in entries)
        async with httpx.AsyncClient() as http:
            minted = (await http.get(f"http://localhost:{server.port}/ws/dev-token")).json()["token"]
            assert (await http.get(server.url + "/health")).json()["redis"] == "disabled"
        client = await Client().connect(server.url, minted)
        event = await client.wait_for("connection.established")
        assert event["data"]["user_id"] == "dev-user"
        await client.close()
        assert "eyJ" not in server.log() and minted not in server.log()
    finally:
        await server.stop()


async def test_in_the_console_format_start_up_says_what_to_do_next() -> None:
    """What a newcomer sees after `make run`: the dashboard's address and a token one-liner that works."""
    server = ServerProcess()
    server.env = bare_env(PORT=str(server.port))  # no LOG_FORMAT: the console format
    await server.start()
    try:
        line = next(line for line in server.log().splitlines() if "development_token_available" in line)
        assert f"dashboard=http://localhost:{server.port}/ws/dashboard" in line, line
        match = re.search(r"token='(export TOKEN=[^']+)'", line)
        assert match, line
        result = await asyncio.create_subprocess_exec(
            "bash", "-c", f'{match.group(1)} && printf %s "$TOKEN"', stdout=asyncio.subprocess.PIPE
        )
        minted = (await result.communicate())[0].decode()
        async with httpx.AsyncClient() as http:  # the page the line names is there
            assert (await http.get(f"http://localhost:{server.port}/ws/dashboard")).status_code == 200
        client = await Client().connect(server.url, minted)
        assert (await client.wait_for("connection.established"))["data"]["user_id"] == "dev-user"
        await client.close()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ENVIRONMENT": "production"}, "JWT_SECRET_KEY"),
        ({"ENVIRONMENT": "production", "JWT_SECRET_KEY": "too-short"}, "at least 32 bytes"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM"),
        ({"PORT": "not-a-port"}, "PORT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_bad_configuration_fails_with_one_line(env: dict[str, str], needle: str) -> None:
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=API_DIR,
        env=bare_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0] and "Traceback" not in result.stderr


async def test_production_mode_hides_development_helpers() -> None:
    server = ServerProcess(
        environment="production", jwt_secret_key="p" * 40, cors_origins="https://app.example"
    )
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/ws/dev-token")).status_code == 404
            assert (await http.get("/ws/dev-token/available")).status_code == 404
            assert (await http.put("/api/projects/550e8400-e29b-41d4-a716-446655440000")).status_code == 404
            assert (await http.get("/health")).status_code == 200
        assert "development_token" not in server.log() and "development_mode" not in server.log()
    finally:
        await server.stop()


async def test_sigterm_stops_the_server() -> None:
    server = ServerProcess(port=free_port())
    await server.start()
    server.signal(15)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert await server.wait(15) in (0, -15)
    await eventually(lambda: "server_stopped" in server.log())
    assert server.trouble() == []
