"""Every event type and its payload model, and who may send it.

The one registration point: a new event type is its `EventType` member, its
payload model (in payloads.py, with an `example`) and one line in
`PAYLOAD_MODELS`; the broadcaster's typed methods (events/broadcast_methods.py),
the schemas, the TypeScript types, the AsyncAPI document and the docs are
generated from here (`make docs`).
"""

from __future__ import annotations

from websocket.protocol.event_types import EventType, Payload
from websocket.protocol.notices import (
    ConnectionErrorData,
    ConnectionEstablished,
    ServerShutdown,
    SubscriptionRevoked,
)
from websocket.protocol.payloads import (
    AgentConnected,
    AgentDisconnected,
    AgentStatusChanged,
    AiAnalysisComplete,
    AiSuggestion,
    IssueClosed,
    IssueCreated,
    IssueUpdated,
    PrClosed,
    PrCreated,
    ProjectDeleted,
    ProjectUpdated,
    PrUpdated,
    WorkflowCompleted,
    WorkflowFailed,
    WorkflowProgress,
    WorkflowStarted,
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
