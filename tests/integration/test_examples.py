"""The integration guide's examples, run for real against a server."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx

from tests.conftest import ClientFactory
from tests.support.servers import ROOT, LiveServer
from tests.support.tokens import token

READ_ALL = ("projects:read", "workflows:read")


async def test_route_example_broadcasts_after_its_work(server: LiveServer, connect: ClientFactory) -> None:
    project_id = uuid.uuid4()
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"project:{project_id}")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.put(
            f"/examples/projects/{project_id}",
            json={"name": "Renamed", "repo_url": "https://github.com/acme/app"},
            headers={"Authorization": f"Bearer {token('editor')}"},
        )
    assert response.json() == {"success": True, "broadcast": True}
    event = await watcher.wait_for("project.updated")
    assert event["data"]["updated_by"] == "editor"
    assert event["data"]["changes"] == {"name": "Renamed", "repo_url": "https://github.com/acme/app"}


async def test_route_example_requires_a_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        missing = await http.put(f"/examples/projects/{uuid.uuid4()}", json={"name": "x"})
        refresh = await http.put(
            f"/examples/projects/{uuid.uuid4()}",
            json={"name": "x"},
            headers={"Authorization": f"Bearer {token(token_type='refresh')}"},
        )
    assert missing.status_code == 401
    assert missing.json()["detail"]["code"] == "AUTH_REQUIRED"
    assert refresh.status_code == 401
    assert refresh.json()["detail"]["code"] == "AUTH_INVALID"


async def test_background_task_example_reports_progress_in_order(
    server: LiveServer, connect: ClientFactory
) -> None:
    project_id, workflow_id = uuid.uuid4(), uuid.uuid4()
    watcher = await connect(token("watcher", scopes=READ_ALL))
    await watcher.subscribe(f"workflow:{workflow_id}")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            f"/examples/projects/{project_id}/analysis/{workflow_id}",
            headers={"Authorization": f"Bearer {token()}"},
        )
    assert response.status_code == 202
    await watcher.wait_for("workflow.completed")
    progress = [e["data"]["progress"] for e in watcher.received("workflow.progress")]
    assert progress == [25, 50, 75, 100]
    assert watcher.received("workflow.started")[0]["data"]["total_steps"] == 4


def test_guide_code_is_the_tested_code() -> None:
    """Every Python block of the guide that names a source file is a verbatim copy of it."""
    guide = (ROOT / "WEBSOCKET_INTEGRATION_GUIDE.md").read_text()
    blocks = re.findall(r"```python\n# (?:from|file) ([\w./-]+)\n(.*?)```", guide, re.S)
    assert blocks, "the guide has no sourced examples"
    for source, code in blocks:
        text = Path(ROOT / source).read_text()
        assert code.strip() in text, f"guide block from {source} no longer matches the file"
