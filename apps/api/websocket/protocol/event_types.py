"""What an event is: its type names, and the base every payload model shares.

Each payload model (payloads.py, notices.py) declares, next to its fields,
which event type it is, which rooms it is delivered to (`target_rooms()`),
what a resuming client gets back (`replay`) and an `example`; the
broadcaster's generated methods, the docs and the generated clients read these
declarations rather than a second table. catalog.py registers them.

`EventType` stays a hand-written list: the models name their type by its
member, and mypy checks every `EventType.X` in the code, which an enum built
at run time from the models would hide from it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict

from websocket.protocol.replay import Replay


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
# `json_schema_input_type` says so to the schema of what the model accepts, which
# is what the broadcaster's generated signatures are written from.
ActorId = Annotated[str, BeforeValidator(_to_text, json_schema_input_type=str | UUID | int)]


JsonObject = dict[str, Any]


class Payload(BaseModel):
    """Base of every event payload: strict about unknown fields, immutable."""

    # Every field is on the wire (defaults and nulls included), so the schema
    # clients get marks them all required.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)
    event_type: ClassVar[EventType]
    routing: ClassVar[str] = "the connection it concerns only"
    replay: ClassVar[Replay] = Replay.ALL
    # A valid payload, with every optional routing field set: the sample of the
    # AsyncAPI document, `python -m cli emit`'s default, and how the docs learn
    # which rooms the type can reach. Every registered model declares its own.
    example: ClassVar[JsonObject]

    def target_rooms(self) -> list[str]:
        raise NotImplementedError
