from __future__ import annotations

import inspect
import json
import uuid

import pytest
from pydantic import ValidationError

from events.broadcaster import EventBroadcaster
from websocket.protocol.catalog import (
    CONNECTION_EVENTS,
    PAYLOAD_MODELS,
    PUBLISHABLE_EVENTS,
    SERVER_OWNED_EVENTS,
)
from websocket.protocol.commands import RoomCommand
from websocket.protocol.envelope import EventEnvelope, OutboundEvent
from websocket.protocol.event_types import EventType
from websocket.protocol.payloads import AiSuggestion, ProjectUpdated, WorkflowProgress

PID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
WID = uuid.UUID("6fa459ea-ee8a-3ca4-894e-db77e160355e")

SPEC_EVENT_TYPES = {
    "project.updated", "project.deleted", "agent.status_changed", "agent.connected",
    "agent.disconnected", "workflow.started", "workflow.progress", "workflow.completed",
    "workflow.failed", "pr.created", "pr.updated", "pr.closed", "issue.created", "issue.updated",
    "issue.closed", "ai.suggestion", "ai.analysis_complete", "connection.established",
    "connection.error",
}  # fmt: skip


def test_every_spec_event_type_exists() -> None:
    assert {t.value for t in EventType} >= SPEC_EVENT_TYPES


def test_every_event_type_has_exactly_one_model() -> None:
    assert set(PAYLOAD_MODELS) == set(EventType)
    for event_type, model in PAYLOAD_MODELS.items():
        assert model.event_type is event_type


def test_broadcaster_has_a_method_per_publishable_event() -> None:
    for event_type in EventType:
        name = "broadcast_" + event_type.value.replace(".", "_")
        assert hasattr(EventBroadcaster, name) is (event_type in PUBLISHABLE_EVENTS), name


def test_server_owned_events_are_agent_presence_and_the_server_families() -> None:
    assert {t.value for t in SERVER_OWNED_EVENTS} == {
        "agent.connected", "agent.disconnected", "connection.established", "connection.error",
        "subscription.revoked", "server.shutdown",
    }  # fmt: skip
    assert CONNECTION_EVENTS <= SERVER_OWNED_EVENTS
    assert set(PUBLISHABLE_EVENTS) == set(EventType) - SERVER_OWNED_EVENTS


def test_broadcast_method_signature_mirrors_the_model() -> None:
    signature = inspect.signature(EventBroadcaster.broadcast_workflow_progress)
    params = {name: p for name, p in signature.parameters.items() if name != "self"}
    assert set(params) == {*WorkflowProgress.model_fields, "idempotency_key"}
    assert params["idempotency_key"].default is None
    assert params["progress"].default is inspect.Parameter.empty
    assert params["status"].default == "running"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


def test_spec_project_updated_arguments_validate() -> None:
    payload = ProjectUpdated(
        project_id=PID, project_name="My Project", repository_url="https://github.com/user/repo",
        status="active", updated_by=uuid.UUID(int=7), changes={"name": "My Project"},
    )  # fmt: skip
    assert payload.updated_by == str(uuid.UUID(int=7))
    assert payload.target_rooms() == [f"project:{PID}"]


def test_workflow_routes_to_workflow_and_project() -> None:
    with_project = WorkflowProgress(workflow_id=WID, project_id=PID, progress=50, current_step="Step 2")
    alone = WorkflowProgress(workflow_id=WID, progress=50, current_step="Step 2")
    assert with_project.target_rooms() == [f"workflow:{WID}", f"project:{PID}"]
    assert alone.target_rooms() == [f"workflow:{WID}"]


def test_ai_suggestion_also_reaches_its_user() -> None:
    payload = AiSuggestion(
        project_id=PID, user_id="u9", suggestion_id=WID, suggestion_type="refactor", title="t", content="c"
    )
    assert payload.target_rooms() == [f"project:{PID}", "user:u9"]


@pytest.mark.parametrize(
    "fields",
    [
        {"workflow_id": "not-a-uuid", "progress": 5, "current_step": "s"},
        {"workflow_id": str(WID), "progress": 101, "current_step": "s"},
        {"workflow_id": str(WID), "progress": -1, "current_step": "s"},
        {"workflow_id": str(WID), "progress": 5},
        {"workflow_id": str(WID), "progress": 5, "current_step": "s", "unknown": 1},
        {"workflow_id": str(WID), "progress": 5, "current_step": "s", "total_steps": 0},
    ],
)
def test_invalid_payloads_raise(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WorkflowProgress(**fields)  # type: ignore[arg-type]


def test_envelope_is_valid_json_matching_the_model() -> None:
    payload = WorkflowProgress(
        workflow_id=WID, project_id=PID, progress=40, current_step="Step 2", total_steps=5
    )
    event = OutboundEvent.create(payload)
    body = json.loads(event.envelope(f"workflow:{WID}"))
    envelope = EventEnvelope.model_validate(body)
    assert envelope.type is EventType.WORKFLOW_PROGRESS
    assert envelope.room == f"workflow:{WID}"
    assert body["timestamp"].endswith("Z")
    assert body["data"] == json.loads(payload.model_dump_json())
    assert body["data"]["workflow_id"] == str(WID)


def test_one_event_two_rooms_shares_id_and_payload() -> None:
    event = OutboundEvent.create(
        WorkflowProgress(workflow_id=WID, project_id=PID, progress=1, current_step="s")
    )
    first, second = (
        json.loads(event.envelope(room))
        for room in WorkflowProgress(
            workflow_id=WID, project_id=PID, progress=1, current_step="s"
        ).target_rooms()
    )
    assert first["id"] == second["id"] and first["data"] == second["data"]
    assert first["room"] != second["room"]


def test_commands_forbid_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        RoomCommand.model_validate({"room": "global", "extra": 1})
    with pytest.raises(ValidationError):
        RoomCommand.model_validate({})
