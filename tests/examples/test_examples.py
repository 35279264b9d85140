"""The integration guide's examples, run for real against a server."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from examples import routes as example_usage
from tests.conftest import ClientFactory
from tests.support.github import deliver, fixture
from tests.support.servers import ROOT, LiveServer, ServerProcess
from tests.support.tokens import token

READ_ALL = ("projects:read", "workflows:read")


@pytest.fixture(scope="module")
async def _example_server() -> AsyncIterator[LiveServer]:
    """A server with the examples' routes added, as an application adds its own."""
    server = await LiveServer(routers=[example_usage.router]).start()
    yield server
    await server.stop()


@pytest.fixture
async def server(_example_server: LiveServer) -> LiveServer:
    """This module's server (it overrides conftest's), the process-wide broadcaster attached to it."""
    return _example_server.attach_broadcaster()


async def test_route_example_broadcasts_after_its_work(server: LiveServer, connect: ClientFactory) -> None:
    project_id = uuid.uuid4()
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"project:{project_id}")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.put(
            f"/api/projects/{project_id}",
            json={"name": "Renamed", "repo_url": "https://github.com/acme/app"},
            headers={"Authorization": f"Bearer {token('editor')}"},
        )
    assert response.json() == {"success": True, "broadcast": True}
    event = await watcher.wait_for("project.updated")
    assert event["data"]["updated_by"] == "editor"
    assert event["data"]["changes"] == {"name": "Renamed", "repo_url": "https://github.com/acme/app"}


async def test_route_example_requires_a_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        missing = await http.put(f"/api/projects/{uuid.uuid4()}", json={"name": "x"})
        refresh = await http.put(
            f"/api/projects/{uuid.uuid4()}",
            json={"name": "x"},
            headers={"Authorization": f"Bearer {token(token_type='refresh')}"},
        )
        start = await http.post(f"/api/projects/{uuid.uuid4()}/workflows", json={})
    assert missing.status_code == 401
    assert missing.json()["detail"]["code"] == "AUTH_REQUIRED"
    assert refresh.status_code == 401
    assert refresh.json()["detail"]["code"] == "AUTH_INVALID"
    assert start.status_code == 401


async def test_workflow_route_reports_progress_in_order(server: LiveServer, connect: ClientFactory) -> None:
    project_id = uuid.uuid4()
    # Watching the project: the workflow id is not known before the route answers.
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"project:{project_id}")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            f"/api/projects/{project_id}/workflows",
            json={"workflow_type": "dependency_audit", "steps": 3},
            headers={"Authorization": f"Bearer {token('starter')}"},
        )
    assert response.status_code == 202
    workflow_id = response.json()["workflow_id"]
    assert response.json()["room"] == f"workflow:{workflow_id}"
    completed = await watcher.wait_for("workflow.completed")
    started = watcher.received("workflow.started")[0]["data"]
    progress = watcher.received("workflow.progress")
    assert (started["workflow_id"], started["started_by"], started["workflow_type"]) == (
        workflow_id,
        "starter",
        "dependency_audit",
    )
    assert [e["data"]["progress"] for e in progress] == [33, 66, 100]
    assert [e["data"]["step_number"] for e in progress] == [1, 2, 3]
    assert completed["data"]["result"] == {"steps": 3}
    names = [name for name, _ in watcher.events if name.startswith("workflow.")]
    assert names == ["workflow.started"] + ["workflow.progress"] * 3 + ["workflow.completed"]


async def test_ai_example_sends_each_suggestion_then_the_summary(
    server: LiveServer, connect: ClientFactory
) -> None:
    project_id = uuid.uuid4()
    requester = await connect(token("reviewer", scopes=()))  # no project scope: gets it in user:reviewer
    member = await connect(token("member", scopes=READ_ALL))
    await member.subscribe(f"project:{project_id}")
    source = "import os\n# TODO: handle timeouts\nx = 1\n# FIXME broken on Windows\n"
    analysis_id = await example_usage.review_file(project_id, "reviewer", "app/net.py", source)
    for client, room in ((requester, "user:reviewer"), (member, f"project:{project_id}")):
        summary = await client.wait_for("ai.analysis_complete")
        suggestions = client.received("ai.suggestion")
        assert [s["data"]["line_number"] for s in suggestions] == [2, 4]
        assert suggestions[0]["data"]["title"] == "Unfinished work: handle timeouts"
        assert {s["room"] for s in suggestions} == {room}
        assert summary["data"]["analysis_id"] == str(analysis_id)
        assert summary["data"]["results"] == {"findings": 2, "lines": 4}


async def test_batch_example_announces_each_issue_once_in_order(
    server: LiveServer, connect: ClientFactory
) -> None:
    project_id = uuid.uuid4()
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"project:{project_id}")
    issues = [example_usage.ImportedIssue(number=n, title=f"Issue {n}", author="ana") for n in range(1, 51)]
    batch_id = uuid.uuid4().hex
    assert await example_usage.import_issues(project_id, issues, batch_id) == 50
    assert await example_usage.import_issues(project_id, issues[:10], batch_id) == 0  # a re-run
    bad = example_usage.ImportedIssue.model_construct(number=99, title=None, author="ana")
    with pytest.raises(ValidationError):  # refused before anything is published
        await example_usage.import_issues(project_id, [*issues[:1], bad], uuid.uuid4().hex)
    await example_usage.import_issues(project_id, [issues[0]], "barrier")
    events = await watcher.wait_count("issue.created", 51)
    assert [e["data"]["number"] for e in events] == [*range(1, 51), 1]
    assert [e["offset"] for e in events] == list(range(events[0]["offset"], events[0]["offset"] + 51))


async def test_database_example_broadcasts_only_after_a_commit(
    server: LiveServer, connect: ClientFactory, tmp_path: Path
) -> None:
    database = str(tmp_path / "projects.db")
    known, unknown = uuid.uuid4(), uuid.uuid4()
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT, status TEXT)")
        db.execute("INSERT INTO projects VALUES (?, 'Tidewater', 'active')", (str(known),))
    db.close()
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"project:{known}")
    await watcher.subscribe(f"project:{unknown}")
    assert await example_usage.archive_project(database, unknown, "admin-1") is False
    assert await example_usage.archive_project(database, known, "admin-1") is True
    event = await watcher.wait_for("project.updated")
    # What a client reloading on this event would read is already committed.
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT status FROM projects WHERE id = ?", (str(known),)).fetchone() == (
            "archived",
        )
    db.close()
    assert (event["room"], event["data"]["status"], event["data"]["project_name"]) == (
        f"project:{known}",
        "archived",
        "Tidewater",
    )
    assert len(watcher.received("project.updated")) == 1


async def test_webhook_resolver_example_works_as_the_configured_resolver() -> None:
    server = ServerProcess(github_project_resolver="examples.routes:resolve_project")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            ours = await deliver(http, "issues", fixture("issues", "opened"))
            foreign = fixture("issues", "opened")
            foreign["repository"]["full_name"] = "someone-else/fork"
            theirs = await deliver(http, "issues", foreign)
    finally:
        await server.stop()
    assert "examples.routes:resolve_project" in server.log()  # github_webhooks_ready names it
    project_id = example_usage.REPOSITORY_PROJECTS["harbor-labs/tidewater"]
    assert ours.status_code == 200 and ours.json()["rooms"] == [f"project:{project_id}"]
    assert theirs.status_code == 202 and theirs.json()["status"] == "ignored"


def test_guide_code_is_the_tested_code() -> None:
    """Every Python block of the guide that names a source file is a verbatim copy of it."""
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    blocks = re.findall(r"```python\n# (?:from|file) ([\w./-]+)\n(.*?)```", guide, re.S)
    assert blocks, "the guide has no sourced examples"
    for source, code in blocks:
        text = Path(ROOT / source).read_text()
        assert code.strip() in text, f"guide block from {source} no longer matches the file"


def test_every_example_of_the_sources_is_in_the_guide() -> None:
    """The other direction: no example in the sources that the guide forgot to show."""
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    for source in ("apps/api/examples/routes.py", "apps/api/examples/temporal_workflow.py"):
        text = (ROOT / source).read_text()
        examples = re.findall(r"# --- example: ([\w ]+) ---\n(.*?)\n# --- end example ---", text, re.S)
        assert examples, source
        for name, code in examples:
            assert code.strip() in guide, f"example {name!r} of {source} is not in the guide"
