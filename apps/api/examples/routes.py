"""How application code emits events: the examples of WEBSOCKET_INTEGRATION_GUIDE.md.

The guide's code blocks are copied from this file (a test checks they still
match), and the test suite runs every function here against a real server, so
the examples cannot rot. The Temporal example lives in `examples/temporal_workflow.py`
because it imports `temporalio`, which the server itself does not need.

The router is part of the app in development only (see main.py): it has no
storage behind it, so in production it would let any token holder announce
changes that never happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
import uuid
from typing import Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel, Field

from events.broadcaster import get_broadcaster
from routers.auth import CurrentUser
from websocket.protocol.payloads import IssueCreated

router = APIRouter(prefix="/api", tags=["examples"])


# --- example: route ---
class ProjectUpdate(BaseModel):
    name: str
    repo_url: str | None = None
    status: str = "active"


@router.put("/projects/{project_id}")
async def update_project(project_id: UUID, updates: ProjectUpdate, user: CurrentUser) -> dict[str, Any]:
    # ... write the change to the database first ...
    delivered = await get_broadcaster().broadcast_project_updated(
        project_id=project_id,
        project_name=updates.name,
        repository_url=updates.repo_url,
        status=updates.status,
        updated_by=user.id,
        changes=updates.model_dump(exclude_unset=True),
    )
    # The change is saved either way; `delivered` only says whether clients were told.
    return {"success": True, "broadcast": delivered}


# --- end example ---


# --- example: workflow route ---
class WorkflowRequest(BaseModel):
    workflow_type: str = "repository_analysis"
    steps: int = Field(default=4, ge=1, le=20)


async def run_workflow(project_id: UUID, workflow_id: UUID, request: WorkflowRequest, user_id: str) -> None:
    broadcaster = get_broadcaster()
    started = time.monotonic()
    await broadcaster.broadcast_workflow_started(
        workflow_id=workflow_id,
        project_id=project_id,
        workflow_type=request.workflow_type,
        started_by=user_id,
        total_steps=request.steps,
    )
    try:
        for step in range(1, request.steps + 1):
            await asyncio.sleep(0.01)  # ... one unit of real work ...
            await broadcaster.broadcast_workflow_progress(
                workflow_id=workflow_id,
                project_id=project_id,
                progress=step * 100 // request.steps,
                current_step=f"Step {step} of {request.steps}",
                step_number=step,
                total_steps=request.steps,
            )
    except Exception as exc:  # tell the watchers, then let the task framework log it
        await broadcaster.broadcast_workflow_failed(
            workflow_id=workflow_id, project_id=project_id, error=str(exc), retryable=True
        )
        raise
    await broadcaster.broadcast_workflow_completed(
        workflow_id=workflow_id,
        project_id=project_id,
        result={"steps": request.steps},
        duration_seconds=round(time.monotonic() - started, 3),
    )


@router.post("/projects/{project_id}/workflows", status_code=202)
async def start_workflow(
    project_id: UUID, request: WorkflowRequest, user: CurrentUser, background: BackgroundTasks
) -> dict[str, str]:
    workflow_id = uuid.uuid4()
    # Answer first; clients subscribe to workflow:<id> (or watch project:<id>) for the rest.
    background.add_task(run_workflow, project_id, workflow_id, request, user.id)
    return {"workflow_id": str(workflow_id), "room": f"workflow:{workflow_id}"}


# --- end example ---


# --- example: webhook resolver ---
# Which project each repository belongs to; a real application asks its database.
REPOSITORY_PROJECTS: dict[str, UUID] = {
    "harbor-labs/tidewater": UUID("6f1c2b7e-3d4a-4e8b-9c1d-2a3b4c5d6e7f"),
}


async def resolve_project(repository: dict[str, Any]) -> UUID | None:
    """GITHUB_PROJECT_RESOLVER=examples.routes:resolve_project"""
    return REPOSITORY_PROJECTS.get(repository.get("full_name", ""))


# --- end example ---


# --- example: AI ---
TODO = re.compile(r"#\s*(TODO|FIXME)\b:?\s*(.*)")


async def review_file(project_id: UUID, user_id: str, file_path: str, source: str) -> UUID:
    """Review one file; each finding goes out as it is found, then a summary."""
    broadcaster = get_broadcaster()
    analysis_id = uuid.uuid4()
    started = time.monotonic()
    findings = 0
    for line_number, line in enumerate(source.splitlines(), start=1):
        match = TODO.search(line)
        if match is None:
            continue
        findings += 1
        await broadcaster.broadcast_ai_suggestion(
            project_id=project_id,
            user_id=user_id,  # also to the requester's own room, wherever they are
            suggestion_id=uuid.uuid4(),
            suggestion_type="open_todo",
            title=f"Unfinished work: {match.group(2) or match.group(1)}",
            content=f"{file_path}:{line_number} still carries a {match.group(1)}.",
            confidence=0.9,
            file_path=file_path,
            line_number=line_number,
            metadata={"analysis_id": str(analysis_id)},
        )
    await broadcaster.broadcast_ai_analysis_complete(
        project_id=project_id,
        user_id=user_id,
        analysis_id=analysis_id,
        analysis_type="todo_review",
        summary=f"{findings} open TODO(s) in {file_path}",
        results={"findings": findings, "lines": len(source.splitlines())},
        score=1.0 if findings == 0 else round(1 / (1 + findings), 2),
        duration_seconds=round(time.monotonic() - started, 3),
    )
    return analysis_id


# --- end example ---


# --- example: batch ---
class ImportedIssue(BaseModel):
    number: int
    title: str
    author: str


async def import_issues(project_id: UUID, issues: list[ImportedIssue], batch_id: str) -> int:
    """Announce a page of imported issues in one call; a re-run of the same batch is not announced twice."""
    payloads = [
        IssueCreated(
            project_id=project_id, issue_id=uuid.uuid5(project_id, str(issue.number)),
            number=issue.number, title=issue.title, author=issue.author,
        )  # a wrong field raises pydantic.ValidationError here, before anything is published
        for issue in issues
    ]  # fmt: skip
    results = await get_broadcaster().publish_many(
        payloads, idempotency_keys=[f"import:{batch_id}:{issue.number}" for issue in issues]
    )
    return sum(result.ok and not result.duplicate for result in results)


# --- end example ---


# --- example: database update ---
def _archive(database: str, project_id: UUID) -> str | None:
    with contextlib.closing(sqlite3.connect(database)) as db, db:  # one transaction, committed at the end
        row = db.execute("SELECT name FROM projects WHERE id = ?", (str(project_id),)).fetchone()
        if row is None:
            return None
        db.execute("UPDATE projects SET status = 'archived' WHERE id = ?", (str(project_id),))
    return str(row[0])


async def archive_project(database: str, project_id: UUID, user_id: str) -> bool:
    """Archive a project, and tell its watchers only once the change is committed."""
    name = await asyncio.to_thread(_archive, database, project_id)
    if name is None:
        return False  # nothing changed, so nothing to announce
    # After the commit: a client that reloads on this event must find the new state.
    await get_broadcaster().broadcast_project_updated(
        project_id=project_id,
        project_name=name,
        status="archived",
        updated_by=user_id,
        changes={"status": "archived"},
    )
    return True


# --- end example ---
