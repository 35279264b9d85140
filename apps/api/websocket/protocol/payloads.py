"""The events the platform publishes: projects, agents, workflows, pull requests, issues, AI results.

Each model is one event type's payload; its docstring is the type's
description in the docs, and it says which rooms it goes to and how it is
replayed on resume (see event_types.py).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from websocket.protocol.event_types import ActorId, EventType, JsonObject, Payload
from websocket.protocol.replay import Replay
from websocket.protocol.rooms import RoomKind, room_name


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


class ProjectDeleted(ProjectPayload):
    """A project was deleted."""

    event_type = EventType.PROJECT_DELETED
    project_name: str | None = None
    deleted_by: ActorId


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

    def target_rooms(self) -> list[str]:
        extra = [_project_room(self.project_id)] if self.project_id else []
        return [*super().target_rooms(), *extra]


class AgentConnected(AgentPayload):
    """An agent came online (its first connection opened, on any instance)."""

    replay = Replay.latest("agent_id")
    event_type = EventType.AGENT_CONNECTED
    agent_name: str | None = None


class AgentDisconnected(AgentPayload):
    """An agent went offline (its last connection closed, on every instance)."""

    replay = Replay.latest("agent_id")
    event_type = EventType.AGENT_DISCONNECTED
    reason: str | None = None


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


class WorkflowCompleted(WorkflowPayload):
    """A workflow finished successfully."""

    event_type = EventType.WORKFLOW_COMPLETED
    result: JsonObject = Field(default_factory=dict)
    duration_seconds: float | None = Field(default=None, ge=0)


class WorkflowFailed(WorkflowPayload):
    """A workflow failed."""

    event_type = EventType.WORKFLOW_FAILED
    error: str
    error_code: str | None = None
    failed_step: str | None = None
    retryable: bool = False


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


class PrUpdated(GitHubRef):
    """A pull request changed; `action` names what happened (GitHub's action name)."""

    event_type = EventType.PR_UPDATED
    pr_id: UUID = Field(description=_STABLE_ID)
    action: str
    title: str | None = None
    status: str | None = None
    updated_by: ActorId | None = None
    changes: JsonObject = Field(default_factory=dict)


class PrClosed(GitHubRef):
    """A pull request was closed; `merged` tells whether it was merged."""

    event_type = EventType.PR_CLOSED
    pr_id: UUID = Field(description=_STABLE_ID)
    merged: bool
    title: str | None = None
    closed_by: ActorId | None = None


class IssueCreated(GitHubRef):
    """An issue was opened (or reopened)."""

    event_type = EventType.ISSUE_CREATED
    issue_id: UUID = Field(description=_STABLE_ID)
    title: str
    description: str | None = None
    author: str
    labels: list[str] = Field(default_factory=list)
    status: str = "open"


class IssueUpdated(GitHubRef):
    """An issue changed; `action` names what happened."""

    event_type = EventType.ISSUE_UPDATED
    issue_id: UUID = Field(description=_STABLE_ID)
    action: str
    title: str | None = None
    status: str | None = None
    updated_by: ActorId | None = None
    changes: JsonObject = Field(default_factory=dict)


class IssueClosed(GitHubRef):
    """An issue was closed."""

    event_type = EventType.ISSUE_CLOSED
    issue_id: UUID = Field(description=_STABLE_ID)
    title: str | None = None
    closed_by: ActorId | None = None
    reason: str | None = None


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


class AiAnalysisComplete(AiPayload):
    """An AI analysis finished."""

    event_type = EventType.AI_ANALYSIS_COMPLETE
    analysis_id: UUID
    analysis_type: str
    summary: str
    results: JsonObject = Field(default_factory=dict)
    score: float | None = None
    duration_seconds: float | None = Field(default=None, ge=0)
