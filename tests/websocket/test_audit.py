"""The audit trail: every refusal logged with code, user and real address; never a token."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from tests.support import audit
from tests.support.clients import Client, ConnectRefused
from tests.support.figures import record
from tests.support.net import eventually
from tests.support.raw import RawSocket
from tests.support.servers import ServerProcess
from tests.support.tokens import SECRET, token
from websocket.protocol.paths import ENGINEIO_PATH

PRODUCTION = {
    "environment": "production",  # no development token in the log either
    "jwt_secret_key": SECRET,
    "cors_origins": "https://app.example",
    "max_connections_per_user": 2,
}
FORWARDED = "203.0.113.7"


def audit_lines(server: ServerProcess) -> list[dict[str, Any]]:
    return audit.audit_lines(server.records())


@pytest.fixture
async def production() -> AsyncIterator[ServerProcess]:
    server = await ServerProcess(**PRODUCTION).start()
    yield server
    await server.stop()


async def test_every_refusal_is_audited_and_no_token_is_logged(production: ServerProcess) -> None:
    server = production
    used: list[str] = []

    def mint(*args: Any, **kwargs: Any) -> str:
        used.append(token(*args, **kwargs))
        return used[-1]

    # Refused at connect, token in the query string (the leakiest place).
    for bad in (mint("audited", ttl_seconds=-5), mint("audited", secret="z" * 64), "not-a-jwt"):
        with pytest.raises(ConnectRefused):
            await Client().connect(server.url, None, query=f"token={bad}", transports=["websocket"])
    # Connected through the query string, then refused command after command.
    client = await Client().connect(server.url, None, query=f"token={mint('audited')}")
    await client.call("subscribe", {"room": "user:somebody-else"})
    await client.call("no-such-command", {})
    await client.call("auth.refresh", {"token": mint("somebody-else")})
    await client.call("auth.refresh", {"token": mint("audited", token_type="refresh")})
    second = await Client().connect(server.url, mint("audited"))
    with pytest.raises(ConnectRefused):
        await Client().connect(server.url, mint("audited"))  # over MAX_CONNECTIONS_PER_USER
    # Below Socket.IO: a foreign origin, an oversized message, a malformed frame, a flood.
    async with httpx.AsyncClient() as http:
        await http.get(f"{server.url}/{ENGINEIO_PATH}/", params={"EIO": "4", "transport": "polling"},
                       headers={"Origin": "https://evil.example"})  # fmt: skip
    async with RawSocket(server.url, mint("raw-sender")) as raw:
        await raw.send_frame("4" + "x" * 1_000_100)
        await asyncio.wait_for(raw.ws.wait_closed(), 5)
        assert raw.ws.close_code == 1009
    async with RawSocket(server.url, mint("raw-sender")) as raw:
        await raw.send_frame("4garbage")
    flooder = await Client().connect(server.url, mint("flooder"))
    for _ in range(300):
        await flooder.emit("debug:rooms", {})
    await flooder.wait_for("connection.error")

    expected_codes = {
        "AUTH_EXPIRED", "AUTH_INVALID", "FORBIDDEN", "UNKNOWN_COMMAND", "TOO_MANY_CONNECTIONS",
        "ORIGIN_NOT_ALLOWED", "MESSAGE_TOO_LARGE", "BAD_PACKET", "RATE_LIMITED",
    }  # fmt: skip
    await eventually(lambda: expected_codes <= {line["code"] for line in audit_lines(server)}, timeout=10)
    for client_ in (client, second, flooder):
        await client_.close()
    await server.stop()  # writes the summaries of the refusals that repeated

    lines = audit_lines(server)
    for line in lines:
        assert line["code"] and line["client_addr"] == "127.0.0.1", line
    # The flood's repeats are counted, not written one by one: each kind is written once, and its
    # repeats in one summary line when the interval (or the server) ends.
    flood = [line for line in lines if line.get("user_id") == "flooder" and line["code"] == "RATE_LIMITED"]
    assert len(flood) <= 4 and audit.refusals(flood) > 100, flood
    assert all(line["repeated"] > 0 for line in audit.summaries(lines))
    by_user = [line for line in lines if line.get("user_id") == "audited"]
    assert {line["code"] for line in by_user} >= {"FORBIDDEN", "UNKNOWN_COMMAND", "AUTH_INVALID"}
    assert any(line["code"] == "TOO_MANY_CONNECTIONS" for line in by_user)
    log = server.log()
    leaked = [t for t in used if t in log or t[-20:] in log]
    assert leaked == [], "a token reached the log"
    assert "eyJ" not in log
    record(
        "audit",
        f"{audit.refusals(lines)} refusals audited in {len(lines)} lines with code and client address, "
        f"{len(set(expected_codes))} kinds; none of the {len(used)} tokens used appears in the log",
    )


async def refused_address(server: ServerProcess, local_addr: str | None = None) -> str:
    """Make a refused connection carrying X-Forwarded-For; return the address the audit line names."""
    marker = f"addr-{uuid.uuid4().hex[:8]}"
    client = Client(local_addr=local_addr)
    try:
        with pytest.raises(ConnectRefused):
            await client.connect(
                server.url, token(marker, ttl_seconds=-5), headers={"X-Forwarded-For": FORWARDED}
            )
    finally:
        await client.close()  # its own HTTP session (local_addr) too
    await eventually(lambda: any(line.get("code") == "AUTH_EXPIRED" for line in audit_lines(server)))
    line = [line for line in audit_lines(server) if line.get("code") == "AUTH_EXPIRED"][-1]
    return str(line["client_addr"])


async def test_forwarded_for_is_ignored_without_a_trusted_proxy() -> None:
    server = await ServerProcess().start()
    try:
        assert await refused_address(server) == "127.0.0.1"
        async with httpx.AsyncClient() as http:  # a relayed request is not "this machine"
            response = await http.get(server.url + "/ws/dev-token", headers={"X-Forwarded-For": FORWARDED})
        assert response.status_code == 403
    finally:
        await server.stop()


async def test_forwarded_for_is_honoured_from_a_trusted_proxy_only() -> None:
    server = await ServerProcess(trusted_proxies="127.0.0.1").start()
    try:
        assert await refused_address(server) == FORWARDED
        # Same header, sent by a peer that is not the trusted proxy: ignored.
        assert await refused_address(server, local_addr="127.0.0.2") == "127.0.0.2"
        async with httpx.AsyncClient() as http:  # REST routes see the same address
            response = await http.get(server.url + "/ws/dev-token", headers={"X-Forwarded-For": FORWARDED})
        assert response.status_code == 403
    finally:
        await server.stop()


async def test_a_refused_origin_is_one_refusal_in_the_audit_trail() -> None:
    """Refused by the gateway before python-engineio reads it: one refusal, one line, no error record."""
    server = await ServerProcess(audit_summary_interval=0.2).start()
    try:
        async with httpx.AsyncClient() as http:
            refused = await http.get(
                f"{server.url}/{ENGINEIO_PATH}/", params={"EIO": "4", "transport": "polling"},
                headers={"Origin": "https://evil.example"},
            )  # fmt: skip
        assert refused.status_code == 400
        ws_url = server.url.replace("http", "ws", 1) + f"/{ENGINEIO_PATH}/?EIO=4&transport=websocket"
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url, origin=websockets.Origin("https://evil.example")):
                pass
    finally:
        await server.stop()  # writes the summaries a repeat would have had
    lines = [line for line in audit_lines(server) if line["event"] == "handshake_refused"]
    assert {line["code"] for line in lines} == {"ORIGIN_NOT_ALLOWED"}, lines
    assert audit.refusals(lines) == 2, lines  # one polling handshake, one WebSocket upgrade
