"""The events the platform publishes: projects, agents, workflows, pull requests, issues, AI results.

Each model is one event type's payload; its docstring is the type's
description in the docs, and it says which rooms it goes to and how it is
replayed on resume (see event_types.py).
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from websocket.protocol.event_types import ActorId, EventType, JsonObject, Payload
from websocket.protocol.replay import Replay
from websocket.protocol.rooms import RoomKind, room_name

# Ids the examples share, so that one sample project's events meet in one room.
_PROJECT = "550e8400-e29b-41d4-a716-446655440000"
_AGENT = "3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f0a7b64"
_WORKFLOW = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
_PR = "0d7f4a3e-2b1c-4f6e-8a9d-5c3b2e1f0a98"
_ISSUE = "9b2e7d41-3c6a-4f85-b0d2-8e1a7c4f6b35"
_GITHUB = {"github_url": "https://github.com/acme/app/pull/42", "number": 42, "github_id": 1874512}


def _project_room(project_id: UUID) -> str:
    return room_name(RoomKind.PROJECT, project_id)


class ProjectPayload(Payload):
    routing = "`project:<project_id>`"
    project_id: UUID

    def target_rooms(self) -> list[str]:
        return [_project_room(self.project_id)]


class ProjectUpdated(ProjectPayload):
    """A project's metadata changed; `changes` holds the fields that changed."""

    event_type = EventType.PROJECT_UPDATED
    project_name: str
    repository_url: str | None = None
    status: str
    updated_by: ActorId
    changes: JsonObject = Field(default_factory=dict, description="Changed fields and their new values")
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "project_name": "Acme App",
        "repository_url": "https://github.com/acme/app", "status": "active", "updated_by": "user-42",
        "changes": {"status": "active"}}  # fmt: skip


class ProjectDeleted(ProjectPayload):
    """A project was deleted."""

    event_type = EventType.PROJECT_DELETED
    project_name: str | None = None
    deleted_by: ActorId
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "project_name": "Acme App",
        "deleted_by": "user-42"}  # fmt: skip


AgentStatus = Literal["online", "idle", "busy", "offline", "error"]


class AgentPayload(Payload):
    routing = "`agent:<agent_id>`"
    agent_id: UUID

    def target_rooms(self) -> list[str]:
        return [room_name(RoomKind.AGENT, self.agent_id)]


class AgentStatusChanged(AgentPayload):
    """An agent's status or availability changed."""

    replay = Replay.latest("agent_id")
    routing = "`agent:<agent_id>`, and `project:<project_id>` when given"
    event_type = EventType.AGENT_STATUS_CHANGED
    status: AgentStatus
    previous_status: AgentStatus | None = None
    agent_name: str | None = None
    project_id: UUID | None = None
    message: str | None = None
    example: ClassVar[JsonObject] = {"agent_id": _AGENT, "status": "busy", "previous_status": "idle",
        "agent_name": "reviewer", "project_id": _PROJECT, "message": "Reviewing PR #42"}  # fmt: skip

    def target_rooms(self) -> list[str]:
        extra = [_project_room(self.project_id)] if self.project_id else []
        return [*super().target_rooms(), *extra]


class AgentConnected(AgentPayload):
    """An agent came online (its first connection opened, on any instance)."""

    replay = Replay.latest("agent_id")
    event_type = EventType.AGENT_CONNECTED
    agent_name: str | None = None
    example: ClassVar[JsonObject] = {"agent_id": _AGENT, "agent_name": "reviewer"}  # fmt: skip


class AgentDisconnected(AgentPayload):
    """An agent went offline (its last connection closed, on every instance)."""

    replay = Replay.latest("agent_id")
    event_type = EventType.AGENT_DISCONNECTED
    reason: str | None = None
    example: ClassVar[JsonObject] = {"agent_id": _AGENT, "reason": "shutdown"}  # fmt: skip


class WorkflowPayload(Payload):
    routing = "`workflow:<workflow_id>`, and `project:<project_id>` when given"
    workflow_id: UUID
    project_id: UUID | None = None

    def target_rooms(self) -> list[str]:
        extra = [_project_room(self.project_id)] if self.project_id else []
        return [room_name(RoomKind.WORKFLOW, self.workflow_id), *extra]


class WorkflowStarted(WorkflowPayload):
    """A workflow started."""

    event_type = EventType.WORKFLOW_STARTED
    workflow_type: str
    started_by: ActorId | None = None
    total_steps: int | None = Field(default=None, ge=1)
    parameters: JsonObject = Field(default_factory=dict)
    example: ClassVar[JsonObject] = {"workflow_id": _WORKFLOW, "project_id": _PROJECT,
        "workflow_type": "code_review", "started_by": "user-42", "total_steps": 4,
        "parameters": {"branch": "main"}}  # fmt: skip


class WorkflowProgress(WorkflowPayload):
    """A running workflow reports progress (0 to 100)."""

    replay = Replay.latest("workflow_id")
    event_type = EventType.WORKFLOW_PROGRESS
    status: str = "running"
    progress: int = Field(ge=0, le=100, description="Percent complete, 0 to 100")
    current_step: str
    total_steps: int | None = Field(default=None, ge=1)
    step_number: int | None = Field(default=None, ge=0)
    message: str | None = None
    example: ClassVar[JsonObject] = {"workflow_id": _WORKFLOW, "project_id": _PROJECT, "progress": 50,
        "current_step": "Running tests", "total_steps": 4, "step_number": 2,
        "message": "2 of 4 steps done"}  # fmt: skip


class WorkflowCompleted(WorkflowPayload):
    """A workflow finished successfully."""

    event_type = EventType.WORKFLOW_COMPLETED
    result: JsonObject = Field(default_factory=dict)
    duration_seconds: float | None = Field(default=None, ge=0)
    example: ClassVar[JsonObject] = {"workflow_id": _WORKFLOW, "project_id": _PROJECT,
        "result": {"issues_found": 3}, "duration_seconds": 42.5}  # fmt: skip


class WorkflowFailed(WorkflowPayload):
    """A workflow failed."""

    event_type = EventType.WORKFLOW_FAILED
    error: str
    error_code: str | None = None
    failed_step: str | None = None
    retryable: bool = False
    example: ClassVar[JsonObject] = {"workflow_id": _WORKFLOW, "project_id": _PROJECT,
        "error": "Test suite failed", "error_code": "TESTS_FAILED", "failed_step": "Running tests",
        "retryable": True}  # fmt: skip


_STABLE_ID = "Stable id; from GitHub webhooks uuid5(NAMESPACE_URL, github_url)"


class GitHubRef(Payload):
    """Fields shared by PR and issue events; GitHub's own ids ride along."""

    routing = "`project:<project_id>`"
    project_id: UUID
    github_url: str | None = Field(default=None, description="The html_url on GitHub")
    number: int | None = Field(default=None, ge=1, description="GitHub's number (#42)")
    github_id: int | None = Field(default=None, description="GitHub's numeric id")

    def target_rooms(self) -> list[str]:
        return [_project_room(self.project_id)]


class PrCreated(GitHubRef):
    """A pull request was opened (or reopened)."""

    event_type = EventType.PR_CREATED
    pr_id: UUID = Field(description=_STABLE_ID)
    title: str
    description: str | None = None
    author: str
    branch: str
    base_branch: str | None = None
    status: str = "open"
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, **_GITHUB, "pr_id": _PR,
        "title": "Add login page", "author": "octocat", "branch": "feature/login",
        "base_branch": "main"}  # fmt: skip


class PrUpdated(GitHubRef):
    """A pull request changed; `action` names what happened (GitHub's action name)."""

    event_type = EventType.PR_UPDATED
    pr_id: UUID = Field(description=_STABLE_ID)
    action: str
    title: str | None = None
    status: str | None = None
    updated_by: ActorId | None = None
    changes: JsonObject = Field(default_factory=dict)
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, **_GITHUB, "pr_id": _PR, "action": "synchronize",
        "updated_by": "octocat"}  # fmt: skip


class PrClosed(GitHubRef):
    """A pull request was closed; `merged` tells whether it was merged."""

    event_type = EventType.PR_CLOSED
    pr_id: UUID = Field(description=_STABLE_ID)
    merged: bool
    title: str | None = None
    closed_by: ActorId | None = None
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, **_GITHUB, "pr_id": _PR, "merged": True,
        "closed_by": "octocat"}  # fmt: skip


class IssueCreated(GitHubRef):
    """An issue was opened (or reopened)."""

    event_type = EventType.ISSUE_CREATED
    issue_id: UUID = Field(description=_STABLE_ID)
    title: str
    description: str | None = None
    author: str
    labels: list[str] = Field(default_factory=list)
    status: str = "open"
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "issue_id": _ISSUE, "number": 7,
        "title": "Login fails on Safari", "author": "octocat", "labels": ["bug"]}  # fmt: skip


class IssueUpdated(GitHubRef):
    """An issue changed; `action` names what happened."""

    event_type = EventType.ISSUE_UPDATED
    issue_id: UUID = Field(description=_STABLE_ID)
    action: str
    title: str | None = None
    status: str | None = None
    updated_by: ActorId | None = None
    changes: JsonObject = Field(default_factory=dict)
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "issue_id": _ISSUE, "number": 7,
        "action": "labeled"}  # fmt: skip


class IssueClosed(GitHubRef):
    """An issue was closed."""

    event_type = EventType.ISSUE_CLOSED
    issue_id: UUID = Field(description=_STABLE_ID)
    title: str | None = None
    closed_by: ActorId | None = None
    reason: str | None = None
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "issue_id": _ISSUE, "number": 7,
        "reason": "completed"}  # fmt: skip


class AiPayload(Payload):
    routing = "`project:<project_id>`, and `user:<user_id>` when given"
    project_id: UUID
    user_id: ActorId | None = Field(default=None, description="Also deliver to this user's room")

    def target_rooms(self) -> list[str]:
        extra = [room_name(RoomKind.USER, self.user_id)] if self.user_id else []
        return [_project_room(self.project_id), *extra]


class AiSuggestion(AiPayload):
    """An AI suggestion was generated."""

    event_type = EventType.AI_SUGGESTION
    suggestion_id: UUID
    suggestion_type: str
    title: str
    content: str
    confidence: float | None = Field(default=None, ge=0, le=1, description="0 to 1")
    file_path: str | None = None
    line_number: int | None = Field(default=None, ge=1)
    metadata: JsonObject = Field(default_factory=dict)
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "user_id": "user-42",
        "suggestion_id": "e4d909c2-90d0-4b2a-8f31-6c7a5b4d3e21", "suggestion_type": "refactor",
        "title": "Extract a function", "content": "validate() repeats three checks.", "confidence": 0.87,
        "file_path": "src/auth.py", "line_number": 120}  # fmt: skip


class AiAnalysisComplete(AiPayload):
    """An AI analysis finished."""

    event_type = EventType.AI_ANALYSIS_COMPLETE
    analysis_id: UUID
    analysis_type: str
    summary: str
    results: JsonObject = Field(default_factory=dict)
    score: float | None = None
    duration_seconds: float | None = Field(default=None, ge=0)
    example: ClassVar[JsonObject] = {"project_id": _PROJECT, "user_id": "user-42",
        "analysis_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "analysis_type": "security",
        "summary": "No critical findings", "results": {"findings": 2}, "score": 0.92,
        "duration_seconds": 12.0}  # fmt: skip
