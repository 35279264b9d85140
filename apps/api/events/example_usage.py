"""How application code emits events: every example of WEBSOCKET_INTEGRATION_GUIDE.md.

The guide's code blocks are copied from this file (a test checks they still
match), and the test suite runs these functions against a real server, so the
examples cannot rot.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel

from events.broadcaster import get_broadcaster
from websocket.auth import CurrentUser

router = APIRouter(prefix="/examples", tags=["examples"])


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


# --- example: background task ---
async def analyse_repository(project_id: UUID, workflow_id: UUID, steps: int = 4) -> None:
    broadcaster = get_broadcaster()
    await broadcaster.broadcast_workflow_started(
        workflow_id=workflow_id, project_id=project_id, workflow_type="repository_analysis", total_steps=steps
    )
    for step in range(steps):
        await asyncio.sleep(0.01)  # ... one unit of real work ...
        await broadcaster.broadcast_workflow_progress(
            workflow_id=workflow_id,
            project_id=project_id,
            status="running",
            progress=int((step + 1) / steps * 100),
            current_step=f"Step {step + 1}",
            total_steps=steps,
        )
    await broadcaster.broadcast_workflow_completed(
        workflow_id=workflow_id, project_id=project_id, result={"files_analysed": 120}
    )


@router.post("/projects/{project_id}/analysis/{workflow_id}", status_code=202)
async def start_analysis(
    project_id: UUID, workflow_id: UUID, user: CurrentUser, background: BackgroundTasks
) -> dict[str, str]:
    background.add_task(analyse_repository, project_id, workflow_id)
    return {"workflow_id": str(workflow_id), "status": "started"}


# --- end example ---
