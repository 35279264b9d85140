"""POST /api/events: publishing over HTTP, for services that are not Python."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from routers import publish
from tests.conftest import ClientFactory
from tests.support.clients import Client
from tests.support.guide import run_shell, shell_block
from tests.support.servers import LiveServer, running
from tests.support.tokens import token

PROJECT = uuid.uuid4()
ROOM = f"project:{PROJECT}"
SERVICE = token("deploy-bot", role="service", scopes=())


def deleted(name: str = "Tidewater") -> dict[str, Any]:
    return {
        "type": "project.deleted",
        "data": {"project_id": str(PROJECT), "project_name": name, "deleted_by": "ops"},
    }


def auth(bearer: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {bearer}"}


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


@pytest.fixture
async def watcher(connect: ClientFactory) -> Client:
    client = await connect(token("watcher", scopes=["projects:read"]))
    await client.subscribe(ROOM)
    return client


async def assert_nothing_before_barrier(http: httpx.AsyncClient, client: Client) -> None:
    """Publish a marked event and wait for it; anything published before would have arrived first."""
    marker = f"barrier {uuid.uuid4()}"
    assert (await http.post("/api/events", json=deleted(marker), headers=auth(SERVICE))).status_code == 202
    await client.wait_for("project.deleted", lambda e: e["data"]["project_name"] == marker)
    names = [e["data"].get("project_name") for name, e in client.events if not name.startswith("connection")]
    assert names == [marker]


async def test_one_event_is_published_with_its_id(http: httpx.AsyncClient, watcher: Client) -> None:
    response = await http.post("/api/events", json=deleted(), headers=auth(SERVICE))
    assert response.status_code == 202
    (published,) = response.json()["events"]
    assert published == {"id": published["id"], "type": "project.deleted", "rooms": [ROOM],
                         "delivered": True, "duplicate": False}  # fmt: skip
    event = await watcher.wait_for("project.deleted")
    assert event["id"] == published["id"] and event["data"]["deleted_by"] == "ops"


async def test_a_batch_is_published_in_order(http: httpx.AsyncClient, watcher: Client) -> None:
    workflow_id = str(uuid.uuid4())
    batch = [
        {"type": "workflow.progress", "data": {"workflow_id": workflow_id, "project_id": str(PROJECT),
                                               "progress": p, "current_step": f"step {p}"}}
        for p in (10, 60, 100)
    ] + [deleted()]  # fmt: skip
    response = await http.post("/api/events", json=batch, headers=auth(SERVICE))
    assert response.status_code == 202
    ids = [e["id"] for e in response.json()["events"]]
    assert response.json()["events"][0]["rooms"] == [f"workflow:{workflow_id}", ROOM]
    await watcher.wait_for("project.deleted")
    received = [(e["id"], name) for name, e in watcher.events if not name.startswith("connection")]
    assert received == list(zip(ids, ["workflow.progress"] * 3 + ["project.deleted"], strict=True))
    assert [e["data"]["progress"] for e in watcher.received("workflow.progress")] == [10, 60, 100]


async def test_an_invalid_item_fails_the_batch_with_per_item_errors(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    batch = [
        deleted(),
        {"type": "pr.created", "data": {"project_id": str(PROJECT), "title": "x", "author": "a"}},
        {"type": "connection.established", "data": {}},
        {"type": "no.such.event", "data": {}},
        {"data": {}},
        {**deleted(), "extra": 1},
    ]
    response = await http.post("/api/events", json=batch, headers=auth(SERVICE))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail["code"] == "INVALID_EVENT" and "nothing was published" in detail["message"]
    errors = {(e["index"], e["field"]): e for e in detail["errors"]}
    assert errors[(1, "data.pr_id")]["type"] == "pr.created"
    assert errors[(1, "data.branch")]["message"] == "Field required"
    assert (
        errors[(2, None)]["message"]
        == "connection.established is sent by the server itself and cannot be published"
    )
    assert "no.such.event" in errors[(3, None)]["message"]
    assert errors[(4, "type")]["message"].startswith("type is missing")
    assert errors[(5, "extra")]["type"] == "project.deleted"
    assert {e["index"] for e in detail["errors"]} == {1, 2, 3, 4, 5}
    await assert_nothing_before_barrier(http, watcher)


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("agent.connected", {"agent_id": str(uuid.uuid4())}),
        ("agent.disconnected", {"agent_id": str(uuid.uuid4()), "reason": "forged"}),
        ("connection.error", {"code": "AUTH_EXPIRED", "message": "forged"}),
        ("subscription.revoked", {"room": ROOM, "reason": "forged"}),
        ("server.shutdown", {"reason": "forged", "reconnect_delay_ms": 0}),
    ],
)
async def test_server_owned_event_types_cannot_be_published(
    http: httpx.AsyncClient, watcher: Client, event_type: str, data: dict[str, Any]
) -> None:
    admin = token("root", role="admin", scopes=())  # not even an admin
    for body in ({"type": event_type, "data": data}, [deleted(), {"type": event_type, "data": data}]):
        response = await http.post("/api/events", json=body, headers=auth(admin))
        assert response.status_code == 400
        [error] = response.json()["detail"]["errors"]
        assert error["message"] == f"{event_type} is sent by the server itself and cannot be published"
    await assert_nothing_before_barrier(http, watcher)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{broken", "body is not valid JSON"),
        (b"", "body is required"),
        (b"[]", "at least 1 item"),
        (b'"project.deleted"', "body must be one event object or an array of events"),
    ],
)
async def test_bodies_that_are_not_events_get_a_400(
    http: httpx.AsyncClient, body: bytes, message: str
) -> None:
    headers = auth(SERVICE) | {"Content-Type": "application/json"}
    response = await http.post("/api/events", content=body, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["detail"]["errors"][0]["message"]


async def test_batches_are_bounded(http: httpx.AsyncClient, watcher: Client) -> None:
    response = await http.post(
        "/api/events", json=[deleted()] * (publish.MAX_BATCH + 1), headers=auth(SERVICE)
    )
    assert response.status_code == 400
    assert "at most 100" in response.json()["detail"]["errors"][0]["message"]
    await assert_nothing_before_barrier(http, watcher)


async def test_oversized_bodies_are_refused(http: httpx.AsyncClient) -> None:
    huge = deleted("x" * (publish.MAX_BODY + 1))
    response = await http.post("/api/events", json=huge, headers=auth(SERVICE))
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("bearer", "status", "code"),
    [
        (None, 401, "AUTH_REQUIRED"),
        ("not-a-jwt", 401, "AUTH_INVALID"),
        (token("reader"), 403, "FORBIDDEN"),  # read scopes only
        (token("agent-7", role="agent"), 403, "FORBIDDEN"),
        (token("expired", ttl_seconds=-10), 401, "AUTH_EXPIRED"),
    ],
)
async def test_publishing_needs_the_right_token(
    http: httpx.AsyncClient, watcher: Client, bearer: str | None, status: int, code: str
) -> None:
    # An invalid body too: authorization is decided before the body is even looked at.
    for body in (deleted(), {"type": "nope"}):
        response = await http.post("/api/events", json=body, headers=auth(bearer) if bearer else {})
        assert response.status_code == status
        assert response.json()["detail"]["code"] == code
    await assert_nothing_before_barrier(http, watcher)


@pytest.mark.parametrize(
    "bearer",
    [token("scoped", scopes=["events:publish"]), token("root", role="admin", scopes=()), SERVICE],
)
async def test_publishers_are_scope_or_role(http: httpx.AsyncClient, bearer: str) -> None:
    response = await http.post("/api/events", json=deleted(), headers=auth(bearer))
    assert response.status_code == 202


async def test_a_repeated_idempotency_key_is_answered_but_not_broadcast(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    key = f"deploy-{uuid.uuid4()}"
    first = await http.post("/api/events", json={**deleted(), "idempotency_key": key}, headers=auth(SERVICE))
    again = await http.post("/api/events", json={**deleted(), "idempotency_key": key}, headers=auth(SERVICE))
    # Keys belong to their publisher: another service's identical key is its own.
    other = token("other-service", role="service")
    theirs = await http.post("/api/events", json={**deleted(), "idempotency_key": key}, headers=auth(other))
    (a,), (b,), (c,) = (r.json()["events"] for r in (first, again, theirs))
    assert (a["duplicate"], b["duplicate"], c["duplicate"]) == (False, True, False)
    assert b["id"] == a["id"] != c["id"]
    await watcher.wait_count("project.deleted", 2)
    await assert_nothing_before_barrier_after(http, watcher, expected=[a["id"], c["id"]])


async def test_idempotency_keys_of_different_publishers_never_collide(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    """A sub may contain ':': `a` with key `b:c` and `a:b` with key `c` are different events."""
    tag = uuid.uuid4().hex[:8]
    first, second = token(tag, role="service"), token(f"{tag}:b", role="service")
    one = await http.post("/api/events", json={**deleted(), "idempotency_key": "b:c"}, headers=auth(first))
    two = await http.post("/api/events", json={**deleted(), "idempotency_key": "c"}, headers=auth(second))
    (a,), (b,) = one.json()["events"], two.json()["events"]
    assert (a["duplicate"], b["duplicate"]) == (False, False)
    assert a["id"] != b["id"]
    await assert_nothing_before_barrier_after(http, watcher, expected=[a["id"], b["id"]])


def test_idempotency_keys_are_length_prefixed() -> None:
    assert publish.idempotency_key("a", "b:c") == "api:1:a:b:c"
    assert publish.idempotency_key("a:b", "c") == "api:3:a:b:c"


async def assert_nothing_before_barrier_after(
    http: httpx.AsyncClient, client: Client, expected: list[str]
) -> None:
    marker = f"barrier {uuid.uuid4()}"
    await http.post("/api/events", json=deleted(marker), headers=auth(SERVICE))
    barrier = await client.wait_for("project.deleted", lambda e: e["data"]["project_name"] == marker)
    assert [e["id"] for e in client.received("project.deleted")] == [*expected, barrier["id"]]


async def test_openapi_documents_the_request_schema(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    operation = spec["paths"]["/api/events"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    single, batch = schema["oneOf"]
    mapping = single["discriminator"]["mapping"]
    assert single["discriminator"]["propertyName"] == "type"
    assert set(mapping) == {t.value for t in publish.PUBLISHABLE}
    assert "connection.established" not in mapping and "agent.connected" not in mapping
    assert batch["type"] == "array" and batch["maxItems"] == 100
    item = spec["components"]["schemas"]["PublishPrCreated"]
    assert item["properties"]["data"] == {"$ref": "#/components/schemas/PrCreated"}
    assert set(operation["responses"]) >= {"202", "400", "401", "403", "413", "503"}


async def test_the_guides_curl_command_publishes(server: LiveServer, connect: ClientFactory) -> None:
    command = shell_block("publish-curl")
    project_id = re.search(r'"project_id": "([0-9a-f-]{36})"', command)
    assert project_id, command
    watcher = await connect(token("watcher", scopes=["projects:read"]))
    await watcher.subscribe(f"project:{project_id.group(1)}")
    code, output = await run_shell(command, ("curl",), EVENT_SERVER=server.url, TOKEN=SERVICE)
    assert code == 0 and '"delivered":true' in output, output
    event = await watcher.wait_for("project.updated")
    assert (event["data"]["status"], event["data"]["updated_by"]) == ("deploying", "deploy-bot")


async def test_publishing_is_rate_limited_per_publisher() -> None:
    """PUBLISH_RATE=2, PUBLISH_BURST=100: a full batch fits, the next event waits half a second."""
    bot, other = token("rate-bot", role="service"), token("rate-other", role="service")
    async with running(LiveServer(publish_rate=2, publish_burst=100)) as limited:
        watcher = await Client().connect(limited.url, token("watcher", scopes=["projects:read"]))
        try:
            await watcher.subscribe(ROOM)
            async with httpx.AsyncClient(base_url=limited.url) as http:
                full = await http.post("/api/events", json=[deleted("burst")] * 100, headers=auth(bot))
                assert full.status_code == 202
                with capture_logs() as logs:
                    over = await http.post("/api/events", json=deleted("over"), headers=auth(bot))
                    again = await http.post("/api/events", json=deleted("over"), headers=auth(bot))
                assert over.status_code == again.status_code == 429
                assert over.headers["Retry-After"] == "1"
                detail = over.json()["detail"]
                assert (detail["code"], detail["retryable"]) == ("RATE_LIMITED", True)
                assert "2 events per second" in detail["message"]
                # One audit line for the two refusals (the next comes after REPORT_INTERVAL).
                audit = [e for e in logs if e["event"] == "events_publish_rate_limited"]
                assert [(e["user_id"], e["code"], e["refused"]) for e in audit] == [
                    ("rate-bot", "RATE_LIMITED", 1)
                ]
                # Another publisher is not held back.
                marker = f"barrier {uuid.uuid4()}"
                barrier = await http.post("/api/events", json=deleted(marker), headers=auth(other))
                assert barrier.status_code == 202
                await watcher.wait_for("project.deleted", lambda e: e["data"]["project_name"] == marker)
                names = [e["data"]["project_name"] for e in watcher.received("project.deleted")]
                assert names == ["burst"] * 100 + [marker]  # nothing of the refused requests
                await asyncio.sleep(float(over.headers["Retry-After"]))  # honouring it is enough
                later = await http.post("/api/events", json=deleted("later"), headers=auth(bot))
                assert later.status_code == 202
        finally:
            await watcher.close()
