"""The wire vocabulary: event types, their payloads, the envelope, client commands.

Each payload model declares, next to its fields, which event type it is and
which rooms it is delivered to (`target_rooms()`); the broadcaster and the docs read
these declarations rather than keeping a second table.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from websocket.protocol.replay import Replay
from websocket.protocol.rooms import MAX_ROOM_LENGTH, RoomKind, room_name


class EventType(StrEnum):
    PROJECT_UPDATED = "project.updated"
    PROJECT_DELETED = "project.deleted"
    AGENT_STATUS_CHANGED = "agent.status_changed"
    AGENT_CONNECTED = "agent.connected"
    AGENT_DISCONNECTED = "agent.disconnected"
    WORKFLOW_STARTED = "workflow.started"
    WORKFLOW_PROGRESS = "workflow.progress"
    WORKFLOW_COMPLETED = "workflow.completed"
    WORKFLOW_FAILED = "workflow.failed"
    PR_CREATED = "pr.created"
    PR_UPDATED = "pr.updated"
    PR_CLOSED = "pr.closed"
    ISSUE_CREATED = "issue.created"
    ISSUE_UPDATED = "issue.updated"
    ISSUE_CLOSED = "issue.closed"
    AI_SUGGESTION = "ai.suggestion"
    AI_ANALYSIS_COMPLETE = "ai.analysis_complete"
    CONNECTION_ESTABLISHED = "connection.established"
    CONNECTION_ERROR = "connection.error"
    SUBSCRIPTION_REVOKED = "subscription.revoked"
    SERVER_SHUTDOWN = "server.shutdown"


def _to_text(value: Any) -> Any:
    return str(value) if isinstance(value, UUID | int) and not isinstance(value, bool) else value


# A user, agent or service id as the platform passes it: str, UUID or int, sent as text.
ActorId = Annotated[str, BeforeValidator(_to_text)]
JsonObject = dict[str, Any]


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields, immutable."""

    # Every field is on the wire (defaults and nulls included), so the schema
    # clients get marks them all required.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)
    event_type: ClassVar[EventType]
    routing: ClassVar[str] = "the connection it concerns only"
    replay: ClassVar[Replay] = Replay.ALL

    def target_rooms(self) -> list[str]:
        raise NotImplementedError


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


class ConnectionEstablished(Payload):
    """Sent to one connection only, right after it is accepted."""

    event_type = EventType.CONNECTION_ESTABLISHED
    connection_id: str
    user_id: str
    rooms: list[str]
    server_time: datetime
    ping_interval: float
    ping_timeout: float


# Event name of the established notice the original quick-start listens for
# (an alias of connection.established, sent too).
LEGACY_ESTABLISHED = "connection_established"


class ConnectionErrorData(Payload):
    """Sent to one connection right before the server closes it; `code` says why."""

    event_type = EventType.CONNECTION_ERROR
    code: str = Field(description="`AUTH_EXPIRED`, `RATE_LIMITED`, `ACCESS_REVOKED` or `SLOW_CONSUMER`")
    message: str


class SubscriptionRevoked(Payload):
    """The connection was taken out of a room; no more events of that room will arrive."""

    routing = "each connection of the user that was in the room"
    event_type = EventType.SUBSCRIPTION_REVOKED
    room: str
    reason: str


class ServerShutdown(Payload):
    """This instance is shutting down; the connection closes next. Reconnect after the delay."""

    routing = "every connection of the instance that is stopping"
    event_type = EventType.SERVER_SHUTDOWN
    reason: str
    reconnect_delay_ms: int = Field(
        ge=0, description="Suggested wait before reconnecting; differs per connection to spread the load"
    )


PAYLOAD_MODELS: dict[EventType, type[Payload]] = {
    model.event_type: model
    for model in (
        ProjectUpdated, ProjectDeleted,
        AgentStatusChanged, AgentConnected, AgentDisconnected,
        WorkflowStarted, WorkflowProgress, WorkflowCompleted, WorkflowFailed,
        PrCreated, PrUpdated, PrClosed,
        IssueCreated, IssueUpdated, IssueClosed,
        AiSuggestion, AiAnalysisComplete,
        ConnectionEstablished, ConnectionErrorData, SubscriptionRevoked, ServerShutdown,
    )
}  # fmt: skip

# Event types the server itself addresses to single connections (their envelope's
# room is null). They are never broadcast to rooms; all are server-owned (below).
CONNECTION_EVENTS = frozenset(
    {
        EventType.CONNECTION_ESTABLISHED,
        EventType.CONNECTION_ERROR,
        EventType.SUBSCRIPTION_REVOKED,
        EventType.SERVER_SHUTDOWN,
    }
)


# Event types only the server may send: what it says about a connection, a
# subscription or itself, and agents coming and going (derived from their
# connections: a published agent.connected would announce an agent nobody can
# see leave). Every way in from outside (POST /api/events, the CLI's emit) refuses
# them; the broadcaster has no broadcast_* method for them. By family, so a new
# `server.*` type is server-owned without anyone remembering to add it.
SERVER_OWNED_FAMILIES = ("connection.", "subscription.", "server.")
SERVER_OWNED_EVENTS = frozenset(
    {EventType.AGENT_CONNECTED, EventType.AGENT_DISCONNECTED}
    | {event_type for event_type in EventType if event_type.value.startswith(SERVER_OWNED_FAMILIES)}
)
PUBLISHABLE_EVENTS = tuple(event_type for event_type in EventType if event_type not in SERVER_OWNED_EVENTS)


class EventEnvelope(BaseModel):
    """What every event looks like on the wire; clients read `event.data.<field>`."""

    model_config = ConfigDict(extra="forbid")
    offset: int | None = Field(
        description="Position in the room's stream, strictly increasing per room; null for events that "
        "are not kept (replay none) and for events sent to one connection"
    )
    epoch: str | None = Field(
        description="Identity of the room's stream; a new epoch means history was reset"
    )
    id: UUID
    type: EventType
    room: str | None = Field(
        description="The room it was delivered through; null when sent to one connection"
    )
    timestamp: datetime
    data: JsonObject
    replayed: bool = Field(default=False, description="Present, and true, on events re-sent by a resume")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomCommand(Command):
    room: str = Field(min_length=1, max_length=MAX_ROOM_LENGTH)


class SincePosition(Command):
    offset: int = Field(ge=0, le=2**53, description="The offset of the last event the client has")
    epoch: str = Field(max_length=64, description="The epoch that offset belongs to ('' before any event)")


class SubscribeCommand(RoomCommand):
    since: SincePosition | None = Field(
        default=None, description="Resume: replay what came after this position, then continue live"
    )
    replay: Literal["policy", "all"] = Field(
        default="policy",
        description="'policy' replays per event type (latest only, for some); 'all' replays every kept event",
    )


class EmptyCommand(Command):
    pass


class RefreshCommand(Command):
    token: str = Field(min_length=1, max_length=8192)
