"""POST /webhooks/github against a real server: signed deliveries in, events out to real clients."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from structlog.testing import capture_logs

from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.clients import Client
from tests.support.github import (
    PROJECT_ID,
    PROJECT_ROOM,
    deliver,
    fixture,
    fixture_names,
    signed_headers,
)
from tests.support.guide import run_shell, shell_block
from tests.support.servers import LiveServer
from tests.support.tokens import WEBHOOK_SECRET, token
from webhooks import github as github_webhook
from webhooks.projects import set_project_resolver

SENDERS = {"maya-okafor", "jonas-lindqvist", "priya-raman"}

# What each documented action must become: event type and the fields that matter for it.
PR_BODY = "Moves berth allocation to the new tide model.\n\nCloses #121."
ISSUE_BODY = "During spring tides the planner assigns berth 4 to deep-draught vessels at low water."
PR_EXPECTED: dict[str, tuple[str, dict[str, Any]]] = {
    "opened": ("pr.created", {"title": "Plan berths around the spring tide window", "author": "maya-okafor",
                              "branch": "feature/spring-tide-berths", "base_branch": "main", "status": "open",
                              "description": PR_BODY}),
    "reopened": ("pr.created", {"author": "maya-okafor", "status": "open"}),
    "closed": ("pr.closed", {"merged": True, "closed_by": "priya-raman"}),
    "closed.unmerged": ("pr.closed", {"merged": False, "closed_by": "jonas-lindqvist"}),
    "edited": ("pr.updated", {"title": "Plan berths around spring and neap tides",
                              "changes": {"title": {"from": "Plan berths around the spring tide window"}}}),
    "assigned": ("pr.updated", {"changes": {"assignee": "priya-raman"}}),
    "unassigned": ("pr.updated", {"changes": {"assignee": "priya-raman"}}),
    "labeled": ("pr.updated", {"changes": {"label": "needs-review"}}),
    "unlabeled": ("pr.updated", {"changes": {"label": "needs-review"}}),
    "review_requested": ("pr.updated", {"changes": {"requested_reviewer": "jonas-lindqvist"}}),
    "review_request_removed": ("pr.updated", {"changes": {"requested_team": "Scheduling"}}),
    "synchronize": ("pr.updated", {"changes": {"before": "5d1c2f0a9be34e7c8a41f6d2b0e9c3a7f4815e62",
                                               "after": "e7a9c1b3d5f7092b4d6f8a0c2e4b6d8f0a2c4e6b"}}),
    "converted_to_draft": ("pr.updated", {"status": "draft"}),
    "ready_for_review": ("pr.updated", {"status": "open"}),
    "locked": ("pr.updated", {}),
    "unlocked": ("pr.updated", {}),
    "milestoned": ("pr.updated", {"changes": {"milestone": "v2.4"}}),
    "demilestoned": ("pr.updated", {"changes": {"milestone": "v2.4"}}),
    "auto_merge_enabled": ("pr.updated", {}),
    "auto_merge_disabled": ("pr.updated", {"changes": {"reason": "Base branch was modified"}}),
    "enqueued": ("pr.updated", {}),
    "dequeued": ("pr.updated", {"changes": {"reason": "MERGE"}}),
}  # fmt: skip

ISSUE_EXPECTED: dict[str, tuple[str, dict[str, Any]]] = {
    "opened": ("issue.created", {"title": "Berth plan ignores spring tides", "author": "jonas-lindqvist",
                                 "labels": ["bug"], "status": "open"}),
    "reopened": ("issue.created", {"author": "jonas-lindqvist", "status": "open"}),
    "closed": ("issue.closed", {"closed_by": "priya-raman", "reason": "completed"}),
    "edited": ("issue.updated", {"changes": {"body": {"from": ISSUE_BODY}}}),
    "deleted": ("issue.updated", {}),
    "assigned": ("issue.updated", {"changes": {"assignee": "maya-okafor"}}),
    "unassigned": ("issue.updated", {"changes": {"assignee": "maya-okafor"}}),
    "labeled": ("issue.updated", {"changes": {"label": "needs-review"}}),
    "unlabeled": ("issue.updated", {"changes": {"label": "needs-review"}}),
    "milestoned": ("issue.updated", {"changes": {"milestone": "v2.4"}}),
    "demilestoned": ("issue.updated", {"changes": {"milestone": "v2.4"}}),
    "locked": ("issue.updated", {"status": "open"}),
    "unlocked": ("issue.updated", {}),
    "pinned": ("issue.updated", {}),
    "unpinned": ("issue.updated", {}),
    "typed": ("issue.updated", {"changes": {"type": "Bug"}}),
    "untyped": ("issue.updated", {"changes": {"type": "Bug"}}),
    "transferred": ("issue.updated", {"changes": {
        "new_issue_url": "https://github.com/harbor-labs/tidewater-archive/issues/7",
        "new_repository": "harbor-labs/tidewater-archive"}}),
}  # fmt: skip


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


@pytest.fixture
async def watcher(connect: ClientFactory) -> Client:
    """A client in the repository's project room."""
    client = await connect(token("watcher", scopes=["projects:read"]))
    await client.subscribe(PROJECT_ROOM)
    return client


def unseen(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with a title no other delivery had: a body seen before is dropped as a replay."""
    item = payload.get("pull_request") or payload["issue"]
    item["title"] = f"{item['title']} ({uuid.uuid4()})"
    return payload


def broadcast_events(client: Client) -> list[tuple[str, Any]]:
    return [(name, data) for name, data in client.events if not name.startswith("connection")]


async def assert_nothing_broadcast_before_barrier(http: httpx.AsyncClient, client: Client) -> None:
    """Deliver a marked issue and wait for it: events to one room arrive in order, so anything
    broadcast by the requests before it would have arrived first."""
    marker = f"barrier {uuid.uuid4()}"
    payload = fixture("issues", "opened")
    payload["issue"]["title"] = marker
    assert (await deliver(http, "issues", payload)).status_code == 200
    await client.wait_for("issue.created", lambda e: e["data"]["title"] == marker)
    assert [(name, data["data"].get("title")) for name, data in broadcast_events(client)] == [
        ("issue.created", marker)
    ]


@pytest.mark.parametrize("name", fixture_names("pull_request"))
async def test_every_pull_request_action_reaches_the_project_room(
    http: httpx.AsyncClient, watcher: Client, name: str
) -> None:
    payload = fixture("pull_request", name)
    expected_type, expected_fields = PR_EXPECTED[name]
    response = await deliver(http, "pull_request", payload)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "broadcast" and response.json()["event"] == expected_type
    event = await watcher.wait_for(expected_type)
    assert event["id"] == response.json()["event_id"]
    assert event["room"] == PROJECT_ROOM
    data = event["data"]
    pr = payload["pull_request"]
    assert data["project_id"] == str(PROJECT_ID)
    assert data["pr_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, pr["html_url"]))
    assert (data["number"], data["github_id"], data["github_url"]) == (128, pr["id"], pr["html_url"])
    if expected_type == "pr.updated":
        assert data["action"] == payload["action"] and data["updated_by"] in SENDERS
    for field, value in expected_fields.items():
        if field == "changes":
            assert {k: data["changes"][k] for k in value} == value
        else:
            assert data[field] == value, field


@pytest.mark.parametrize("name", fixture_names("issues"))
async def test_every_issues_action_reaches_the_project_room(
    http: httpx.AsyncClient, watcher: Client, name: str
) -> None:
    payload = fixture("issues", name)
    expected_type, expected_fields = ISSUE_EXPECTED[name]
    response = await deliver(http, "issues", payload)
    assert response.status_code == 200, response.text
    event = await watcher.wait_for(expected_type)
    assert event["id"] == response.json()["event_id"] and event["room"] == PROJECT_ROOM
    data = event["data"]
    issue = payload["issue"]
    assert data["issue_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, issue["html_url"]))
    assert (data["number"], data["github_id"], data["github_url"]) == (121, issue["id"], issue["html_url"])
    if expected_type == "issue.updated":
        assert data["action"] == payload["action"] and data["updated_by"] in SENDERS
    for field, value in expected_fields.items():
        if field == "changes":
            assert {k: data["changes"][k] for k in value} == value
        else:
            assert data[field] == value, field


def test_fixtures_cover_every_action_the_tests_expect() -> None:
    assert set(fixture_names("pull_request")) == set(PR_EXPECTED)
    assert set(fixture_names("issues")) == set(ISSUE_EXPECTED)


async def test_ping_is_answered_and_broadcasts_nothing(http: httpx.AsyncClient, watcher: Client) -> None:
    response = await deliver(http, "ping", fixture("ping", ""))
    assert response.status_code == 200
    assert response.json() == {"status": "pong", "zen": "Mind your words, they are important."}
    await assert_nothing_broadcast_before_barrier(http, watcher)


async def test_other_event_types_are_acknowledged_ignored_and_logged(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    push = {"ref": "refs/heads/main", "repository": fixture("ping", "")["repository"]}
    with capture_logs() as logs:
        response = await deliver(http, "push", push)
    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "reason": "event 'push' is not handled"}
    entry = next(e for e in logs if e["event"] == "github_webhook")
    assert (entry["outcome"], entry["status"]) == ("ignored", 202)
    assert entry["reason"] == "event 'push' is not handled"
    await assert_nothing_broadcast_before_barrier(http, watcher)


@pytest.mark.parametrize(
    "tamper",
    ["missing", "wrong secret", "body changed", "sha1 header", "not hex"],
)
async def test_bad_signatures_are_refused_and_broadcast_nothing(
    http: httpx.AsyncClient, watcher: Client, tamper: str
) -> None:
    body = json.dumps(fixture("pull_request", "opened")).encode()
    headers = signed_headers("pull_request", body)
    if tamper == "missing":
        del headers["X-Hub-Signature-256"]
    elif tamper == "wrong secret":
        headers = signed_headers("pull_request", body, secret="not-the-secret")
    elif tamper == "body changed":
        body = body.replace(b"Plan berths", b"Drop tables")
    elif tamper == "sha1 header":
        headers["X-Hub-Signature-256"] = "sha1=" + headers["X-Hub-Signature-256"].removeprefix("sha256=")[:40]
    else:
        headers["X-Hub-Signature-256"] = "sha256=" + "zz" * 32
    response = await http.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "INVALID_SIGNATURE"
    await assert_nothing_broadcast_before_barrier(http, watcher)


async def test_a_redelivery_is_acknowledged_but_not_broadcast_twice(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    delivery = str(uuid.uuid4())
    payload = unseen(fixture("pull_request", "labeled"))
    first = await deliver(http, "pull_request", payload, delivery=delivery)
    again = await deliver(http, "pull_request", payload, delivery=delivery)
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "broadcast" and again.json()["status"] == "duplicate"
    assert again.json()["event_id"] == first.json()["event_id"]
    marker = f"barrier {uuid.uuid4()}"
    barrier = fixture("issues", "opened")
    barrier["issue"]["title"] = marker
    await deliver(http, "issues", barrier)
    await watcher.wait_for("issue.created", lambda e: e["data"]["title"] == marker)
    assert [name for name, _ in broadcast_events(watcher)] == ["pr.updated", "issue.created"]


async def test_a_signed_body_replayed_under_a_new_delivery_id_is_not_broadcast(
    http: httpx.AsyncClient, watcher: Client
) -> None:
    """GitHub signs the body, not X-GitHub-Delivery: a captured delivery must not replay."""
    body = json.dumps(unseen(fixture("issues", "labeled"))).encode()
    first = await deliver(http, "issues", body)
    replays = [await deliver(http, "issues", body) for _ in range(3)]  # a new delivery id each
    assert first.json()["status"] == "broadcast"
    for replay in replays:
        assert replay.status_code == 200
        assert replay.json()["status"] == "duplicate", replay.json()
        assert replay.json()["event_id"] == first.json()["event_id"]
    marker = f"barrier {uuid.uuid4()}"
    barrier = fixture("issues", "opened")
    barrier["issue"]["title"] = marker
    await deliver(http, "issues", barrier)
    await watcher.wait_for("issue.created", lambda e: e["data"]["title"] == marker)
    assert [name for name, _ in broadcast_events(watcher)] == ["issue.updated", "issue.created"]


async def test_a_delivery_that_failed_gives_back_both_keys(
    server: LiveServer, http: httpx.AsyncClient, watcher: Client
) -> None:
    payload = unseen(fixture("issues", "closed"))
    delivery = str(uuid.uuid4())
    broadcaster = get_broadcaster()
    broadcaster.detach()  # as if the delivery layer were down
    try:
        failed = await deliver(http, "issues", payload, delivery=delivery)
    finally:
        broadcaster.attach(server.app.state.transport, observer=server.app.state.metrics)
    assert failed.status_code == 503 and failed.json()["detail"]["code"] == "DELIVERY_FAILED"
    # GitHub's redelivery (same id, same body) goes out: neither key was kept by the failure.
    redelivered = await deliver(http, "issues", payload, delivery=delivery)
    assert redelivered.json()["status"] == "broadcast"
    event = await watcher.wait_for("issue.closed")
    assert event["id"] == redelivered.json()["event_id"]
    # ...and from then on both keys hold.
    again = await deliver(http, "issues", payload, delivery=delivery)
    replayed = await deliver(http, "issues", payload)
    assert again.json()["status"] == replayed.json()["status"] == "duplicate"


@pytest.mark.parametrize(
    ("event", "body", "message"),
    [
        ("pull_request", b"{not json", "body is not valid JSON"),
        ("pull_request", b"[1, 2]", "body must be a JSON object"),
        ("pull_request", "no-head", "pull_request.head.ref is missing"),
        ("pull_request", "no-action", "action is missing"),
        ("issues", "number-as-text", "issue.number must be an integer"),
        ("issues", "no-repository", "repository is missing"),
    ],
)
async def test_malformed_deliveries_get_a_clear_400(
    http: httpx.AsyncClient, watcher: Client, event: str, body: bytes | str, message: str
) -> None:
    if isinstance(body, str):
        payload = fixture(event, "opened")
        if body == "no-head":
            del payload["pull_request"]["head"]
        elif body == "no-action":
            del payload["action"]
        elif body == "number-as-text":
            payload["issue"]["number"] = "121"
        else:
            del payload["repository"]
        body = json.dumps(payload).encode()
    response = await deliver(http, event, body)
    assert response.status_code == 400
    assert response.json()["detail"] == {"code": "INVALID_PAYLOAD", "message": message}
    await assert_nothing_broadcast_before_barrier(http, watcher)


async def test_missing_github_headers_get_a_400(http: httpx.AsyncClient) -> None:
    body = json.dumps(fixture("issues", "opened")).encode()
    headers = signed_headers("issues", body)
    del headers["X-GitHub-Delivery"]
    response = await http.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 400
    assert "X-GitHub-Delivery" in response.json()["detail"]["message"]


async def test_form_encoded_deliveries_are_accepted(http: httpx.AsyncClient, watcher: Client) -> None:
    body = ("payload=" + quote(json.dumps(fixture("issues", "opened")))).encode()
    headers = signed_headers("issues", body) | {"Content-Type": "application/x-www-form-urlencoded"}
    response = await http.post("/webhooks/github", content=body, headers=headers)
    assert response.status_code == 200, response.text
    await watcher.wait_for("issue.created")


async def test_an_oversized_body_is_refused(http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github_webhook, "MAX_BODY", 4096)
    response = await deliver(http, "issues", b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_the_host_application_decides_the_project(
    http: httpx.AsyncClient, connect: ClientFactory, watcher: Client
) -> None:
    other = uuid.uuid4()
    seen: list[str] = []

    async def resolve(repository: Any) -> uuid.UUID | None:
        seen.append(repository["full_name"])
        return other if repository["full_name"] == "harbor-labs/tidewater" else None

    elsewhere = await connect(token("other", scopes=["projects:read"]))
    await elsewhere.subscribe(f"project:{other}")
    set_project_resolver(resolve)
    try:
        routed = await deliver(http, "issues", unseen(fixture("issues", "opened")))
        foreign = fixture("issues", "opened")
        foreign["repository"]["full_name"] = "someone/else"
        ignored = await deliver(http, "issues", foreign)
    finally:
        set_project_resolver(None)
    assert routed.status_code == 200 and routed.json()["rooms"] == [f"project:{other}"]
    assert ignored.status_code == 202 and ignored.json()["status"] == "ignored"
    assert seen == ["harbor-labs/tidewater", "someone/else"]
    event = await elsewhere.wait_for("issue.created")
    assert event["data"]["project_id"] == str(other)
    await assert_nothing_broadcast_before_barrier(http, watcher)


async def test_a_failing_resolver_gives_500_without_a_leak(http: httpx.AsyncClient) -> None:
    async def broken(repository: Any) -> uuid.UUID | None:
        raise RuntimeError("database is down")

    set_project_resolver(broken)
    try:
        response = await deliver(http, "issues", fixture("issues", "opened"))
    finally:
        set_project_resolver(None)
    assert response.status_code == 500
    assert response.json()["detail"]["code"] == "INTERNAL_ERROR"
    assert "database" not in response.text


async def test_the_guides_hand_signed_delivery_works(server: LiveServer, connect: ClientFactory) -> None:
    project_id = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/acme/app")
    client = await connect(token("watcher", scopes=["projects:read"]))
    await client.subscribe(f"project:{project_id}")
    code, output = await run_shell(
        shell_block("webhook-curl"),
        ("curl", "openssl"),
        EVENT_SERVER=server.url,
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    assert code == 0 and '"status":"broadcast"' in output, output
    event = await client.wait_for("issue.created")
    assert (event["data"]["title"], event["data"]["number"]) == ("Test", 1)
