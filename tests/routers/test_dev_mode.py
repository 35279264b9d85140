"""Development conveniences fail closed: this machine, directly, or nothing (issue 12, rows 3 and 4).

One server process per module (`python main.py`, its JSON log read back) takes
every forged header and Host; the rule is the same for the development token,
and its availability probe.
"""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from tests.support.audit import refusals as audited
from tests.support.clients import Client, ConnectRefused
from tests.support.net import eventually
from tests.support.servers import ServerProcess, running
from tests.support.tokens import SECRET, token
from tests.support.traffic import project_renamed
from websocket.access.tokens import TokenValidator
from websocket.protocol.errors import AuthError

FORGED_HEADERS = [
    ("Forwarded", "for=127.0.0.1"),
    ("X-Forwarded-For", "127.0.0.1"),
    ("X-Forwarded-Host", "localhost"),
    ("X-Forwarded-Proto", "http"),
    ("X-Real-IP", "127.0.0.1"),
    ("X-Client-IP", "127.0.0.1"),
    ("True-Client-IP", "127.0.0.1"),
    ("CF-Connecting-IP", "127.0.0.1"),
    ("X-Cluster-Client-IP", "127.0.0.1"),
    ("Fastly-Client-IP", "127.0.0.1"),
    ("Via", "1.1 proxy"),
    ("X-Original-Forwarded-For", "127.0.0.1"),
]
FOREIGN_HOSTS = ["evil.example", "evil.example:8000", "localhost.evil.example", "192.0.2.2:8000", "127.0.0.2"]
PROJECT = "550e8400-e29b-41d4-a716-446655440000"
# Every development route that hands something out: the token (JSON and bare) and the dashboard's samples.
LOCAL_ONLY = ("/ws/dev-token", "/ws/dev-token.txt", "/ws/dev/samples")


# A loopback source address per case (127.0.0.20, .21, ...): the audit trail writes the first
# refusal of a kind from an address at once and counts its repeats for a summary line.
SOURCES = itertools.count(20)


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[ServerProcess]:
    async with running(ServerProcess(audit_summary_interval=0.2)) as server:
        yield server


def refusals(server: ServerProcess, address: str | None = None) -> list[dict[str, Any]]:
    return [
        r for r in server.records()
        if r.get("event") == "local_only_refused" and address in (None, r.get("client_addr"))
    ]  # fmt: skip


async def assert_refused_everywhere(
    server: ServerProcess, headers: dict[str, str], audited_as: str | None = None
) -> dict[str, Any]:
    """The token and the probe both say no, the refusal structured and audited
    (under the client address the server sees: ours, or the one a trusted proxy forwarded)."""
    source = f"127.0.0.{next(SOURCES)}"
    audited_as = audited_as or source
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=server.url, headers=headers, transport=transport) as http:
        refused = [await http.get(path) for path in LOCAL_ONLY]
        probe = await http.get("/ws/dev-token/available")
    for answer in refused:
        assert answer.status_code == 403, (headers, answer.url, answer.text)
        detail = answer.json()["detail"]
        assert detail["code"] == "FORBIDDEN" and "this machine" in detail["message"]
        assert "eyJ" not in answer.text
    assert probe.status_code == 200 and probe.json()["available"] is False
    # Each refusal is audited (the probe, which only says no, is not).
    await eventually(lambda: audited(refusals(server, audited_as)) == len(LOCAL_ONLY))
    line = refusals(server, audited_as)[0]
    assert line["logger"] == "audit" and line["level"] == "warning"
    assert line["code"] == "FORBIDDEN" and line["client_addr"] == audited_as and line["reason"]
    return line


async def test_a_direct_local_request_is_served(dev_server: ServerProcess) -> None:
    for base in (dev_server.url, f"http://localhost:{dev_server.port}"):
        async with httpx.AsyncClient(base_url=base) as http:
            body = (await http.get("/ws/dev-token")).json()
            assert (await http.get("/ws/dev-token/available")).json() == {"available": True, "reason": None}
            bare = await http.get("/ws/dev-token.txt")
            assert bare.headers["content-type"].startswith("text/plain") and bare.text.count("\n") == 1
            samples = (await http.get("/ws/dev/samples")).json()["samples"]
            assert {s["type"] for s in samples} >= {"project.updated", "workflow.progress"}
            # The dev token (here the bare one) carries events:publish: it publishes at once.
            published = await http.post(
                "/api/events",
                json=project_renamed(uuid.UUID(PROJECT), "x"),
                headers={"Authorization": f"Bearer {bare.text.strip()}"},
            )
        assert published.status_code == 202, published.text
        assert body["user_id"] == "dev-user" and body["expires_in"] == 3600


@pytest.mark.parametrize(("name", "value"), FORGED_HEADERS)
async def test_each_forwarding_header_is_refused(dev_server: ServerProcess, name: str, value: str) -> None:
    await assert_refused_everywhere(dev_server, {name: value})


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
async def test_a_foreign_host_is_refused(dev_server: ServerProcess, host: str) -> None:
    """DNS rebinding: a page whose own name now points at 127.0.0.1 sends that name as Host."""
    await assert_refused_everywhere(dev_server, {"Host": host})


async def test_a_foreign_origin_is_refused(dev_server: ServerProcess) -> None:
    await assert_refused_everywhere(dev_server, {"Origin": "https://evil.example"})


async def test_the_dev_token_is_ephemeral_short_and_never_logged(dev_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_server.url) as http:
        minted = (await http.get("/ws/dev-token")).json()["token"]
    header, claims = (
        jwt.get_unverified_header(minted),
        jwt.decode(minted, options={"verify_signature": False}),
    )
    assert str(header["kid"]).startswith("dev-")
    assert claims["exp"] - claims["iat"] == 3600
    # JWT_SECRET_KEY is set (tests/support/servers.py), and still did not sign it.
    with pytest.raises(AuthError):
        TokenValidator(SECRET).validate(minted)
    client = await Client().connect(dev_server.url, minted)
    try:
        assert (await client.wait_for("connection.established"))["data"]["user_id"] == "dev-user"
    finally:
        await client.close()
    log = dev_server.log()
    assert minted not in log and minted.split(".")[2] not in log
    started = [r for r in dev_server.records() if r.get("event") == "development_token_available"]
    one_liner = f"export TOKEN=$(curl -s localhost:{dev_server.port}/ws/dev-token.txt)"
    assert started and started[0]["token"] == one_liner
    assert "eyJ" not in str(started[0])


async def test_another_instance_with_the_same_secret_refuses_it(dev_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=dev_server.url) as http:
        minted = (await http.get("/ws/dev-token")).json()["token"]
    async with running(ServerProcess()) as other:
        async with httpx.AsyncClient(base_url=other.url) as http:
            response = await http.post("/api/events", json={}, headers={"Authorization": f"Bearer {minted}"})
        assert response.status_code == 401 and response.json()["detail"]["code"] == "AUTH_INVALID"


async def test_jwt_secret_signs_the_dev_token_only_when_asked() -> None:
    async with running(ServerProcess(dev_token_use_jwt_secret="true", dev_token_ttl="120")) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            body = (await http.get("/ws/dev-token")).json()
        principal = TokenValidator(SECRET).validate(body["token"])
        assert principal.id == "dev-user" and body["expires_in"] == 120
        assert "kid" not in jwt.get_unverified_header(body["token"])
        started = [r for r in server.records() if r.get("event") == "development_token_available"]
        assert started[0]["signed_with"] == "JWT_SECRET_KEY"


def outward_address() -> str:
    """An address of this machine that is not loopback (a refusal otherwise would prove nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only picks the outgoing interface
            address = str(probe.getsockname()[0])
        except OSError:
            address = ""
    if not address or address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    return address


async def test_a_remote_peer_is_refused_and_a_wide_host_is_announced() -> None:
    address = outward_address()
    async with running(ServerProcess(host="0.0.0.0")) as server:
        warnings = [r for r in server.records() if r.get("event") == "development_mode_exposed"]
        assert warnings and warnings[0]["level"] == "warning" and warnings[0]["host"] == "0.0.0.0"
        assert "network" in warnings[0]["risk"]
        # From this machine's outward address, with a Host that would pass: the peer decides.
        async with httpx.AsyncClient(base_url=f"http://{address}:{server.port}") as http:
            response = await http.get("/ws/dev-token", headers={"Host": f"localhost:{server.port}"})
        assert response.status_code == 403 and "peer" in response.json()["detail"]["message"]


async def test_development_listens_on_loopback_by_default() -> None:
    address = outward_address()
    server = ServerProcess()
    del server.env["HOST"]
    async with running(server):
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{server.port}/health")).status_code == 200
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://{address}:{server.port}/health")
        assert not [r for r in server.records() if r.get("event") == "development_mode_exposed"]


async def test_behind_a_trusted_proxy_the_rule_still_refuses() -> None:
    """ProxyHeadersMiddleware rewrites the peer from X-Forwarded-For: the header itself still refuses,
    and a loopback peer that is a trusted proxy is relayed by definition."""
    proxies = "127.0.0.0/8"  # whichever loopback address the test's client comes from
    async with running(ServerProcess(trusted_proxies=proxies, audit_summary_interval=0.2)) as server:
        await assert_refused_everywhere(server, {"X-Forwarded-For": "127.0.0.1"}, audited_as="127.0.0.1")
        line = await assert_refused_everywhere(server, {})
        assert "trusted proxy" in line["reason"]


async def test_the_token_rules_hold_for_the_dev_token_and_for_rest() -> None:
    """JWT_AUDIENCE and JWT_ISSUER: the dev token carries them; a token without them is refused on
    the socket and over REST alike; so is one that lives longer than JWT_MAX_LIFETIME."""
    settings = {"jwt_audience": "eventserver", "jwt_issuer": "https://id.example", "jwt_max_lifetime": "7200"}
    good = {"aud": "eventserver", "iss": "https://id.example"}
    async with running(ServerProcess(**settings)) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            minted = (await http.get("/ws/dev-token")).json()["token"]
            assert jwt.decode(minted, options={"verify_signature": False})["aud"] == "eventserver"
            for bad in (
                token("u"),
                token("u", extra={**good, "aud": "other"}),
                token("u", ttl_seconds=7201, extra=good),
            ):
                with pytest.raises(ConnectRefused) as refused:
                    await Client().connect(server.url, bad)
                assert refused.value.data["code"] == "AUTH_INVALID"
                response = await http.post("/api/events", json={}, headers={"Authorization": f"Bearer {bad}"})
                assert response.status_code == 401 and response.json()["detail"]["code"] == "AUTH_INVALID"
        client = await Client().connect(server.url, minted)
        try:
            ack = await client.call(
                "auth.refresh", {"token": token("dev-user", ttl_seconds=7201, extra=good)}
            )
            assert ack["status"] == "error" and ack["code"] == "AUTH_INVALID"
            ack = await client.call(
                "auth.refresh", {"token": token("dev-user", ttl_seconds=7200, extra=good)}
            )
            assert ack["status"] == "success", ack
        finally:
            await client.close()
