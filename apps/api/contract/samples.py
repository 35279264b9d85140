"""One valid example payload per event type.

Used as the examples of the AsyncAPI document, by `python -m cli
emit`, and to learn which rooms each event can reach (by asking the sample,
which sets every optional routing field, for its `target_rooms()`).
"""

from __future__ import annotations

from typing import Any

from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS
from websocket.protocol.event_types import EventType, Payload

PROJECT = "550e8400-e29b-41d4-a716-446655440000"
AGENT = "3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f0a7b64"
WORKFLOW = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
PR = "0d7f4a3e-2b1c-4f6e-8a9d-5c3b2e1f0a98"
ISSUE = "9b2e7d41-3c6a-4f85-b0d2-8e1a7c4f6b35"
SUGGESTION = "e4d909c2-90d0-4b2a-8f31-6c7a5b4d3e21"
ANALYSIS = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
EVENT_ID = "2b1e4d7a-9c3f-4e8b-a6d5-7f0c1b2a3e94"
TIMESTAMP = "2026-01-15T09:30:00.000Z"
GITHUB = {"github_url": "https://github.com/acme/app/pull/42", "number": 42, "github_id": 1874512}

SAMPLES: dict[EventType, dict[str, Any]] = {
    EventType.PROJECT_UPDATED: {
        "project_id": PROJECT, "project_name": "Acme App", "repository_url": "https://github.com/acme/app",
        "status": "active", "updated_by": "user-42", "changes": {"status": "active"},
    },
    EventType.PROJECT_DELETED: {"project_id": PROJECT, "project_name": "Acme App", "deleted_by": "user-42"},
    EventType.AGENT_STATUS_CHANGED: {
        "agent_id": AGENT, "status": "busy", "previous_status": "idle", "agent_name": "reviewer",
        "project_id": PROJECT, "message": "Reviewing PR #42",
    },
    EventType.AGENT_CONNECTED: {"agent_id": AGENT, "agent_name": "reviewer"},
    EventType.AGENT_DISCONNECTED: {"agent_id": AGENT, "reason": "shutdown"},
    EventType.WORKFLOW_STARTED: {
        "workflow_id": WORKFLOW, "project_id": PROJECT, "workflow_type": "code_review",
        "started_by": "user-42", "total_steps": 4, "parameters": {"branch": "main"},
    },
    EventType.WORKFLOW_PROGRESS: {
        "workflow_id": WORKFLOW, "project_id": PROJECT, "progress": 50, "current_step": "Running tests",
        "total_steps": 4, "step_number": 2, "message": "2 of 4 steps done",
    },
    EventType.WORKFLOW_COMPLETED: {
        "workflow_id": WORKFLOW, "project_id": PROJECT, "result": {"issues_found": 3},
        "duration_seconds": 42.5,
    },
    EventType.WORKFLOW_FAILED: {
        "workflow_id": WORKFLOW, "project_id": PROJECT, "error": "Test suite failed",
        "error_code": "TESTS_FAILED", "failed_step": "Running tests", "retryable": True,
    },
    EventType.PR_CREATED: {
        "project_id": PROJECT, **GITHUB, "pr_id": PR, "title": "Add login page", "author": "octocat",
        "branch": "feature/login", "base_branch": "main",
    },
    EventType.PR_UPDATED: {
        "project_id": PROJECT, **GITHUB, "pr_id": PR, "action": "synchronize", "updated_by": "octocat",
    },
    EventType.PR_CLOSED: {
        "project_id": PROJECT, **GITHUB, "pr_id": PR, "merged": True, "closed_by": "octocat",
    },
    EventType.ISSUE_CREATED: {
        "project_id": PROJECT, "issue_id": ISSUE, "number": 7, "title": "Login fails on Safari",
        "author": "octocat", "labels": ["bug"],
    },
    EventType.ISSUE_UPDATED: {"project_id": PROJECT, "issue_id": ISSUE, "number": 7, "action": "labeled"},
    EventType.ISSUE_CLOSED: {"project_id": PROJECT, "issue_id": ISSUE, "number": 7, "reason": "completed"},
    EventType.AI_SUGGESTION: {
        "project_id": PROJECT, "user_id": "user-42", "suggestion_id": SUGGESTION,
        "suggestion_type": "refactor", "title": "Extract a function",
        "content": "validate() repeats three checks.", "confidence": 0.87,
        "file_path": "src/auth.py", "line_number": 120,
    },
    EventType.AI_ANALYSIS_COMPLETE: {
        "project_id": PROJECT, "user_id": "user-42", "analysis_id": ANALYSIS, "analysis_type": "security",
        "summary": "No critical findings", "results": {"findings": 2}, "score": 0.92,
        "duration_seconds": 12.0,
    },
    EventType.CONNECTION_ESTABLISHED: {
        "connection_id": "k3Jd9sQ2aB7xYt1LAAAB", "user_id": "user-42", "rooms": ["global", "user:user-42"],
        "server_time": TIMESTAMP, "ping_interval": 25.0, "ping_timeout": 60.0,
    },
    EventType.CONNECTION_ERROR: {"code": "AUTH_EXPIRED", "message": "Token has expired"},
    EventType.SUBSCRIPTION_REVOKED: {"room": f"project:{PROJECT}", "reason": "Removed from the project"},
    EventType.SERVER_SHUTDOWN: {"reason": "redeploy", "reconnect_delay_ms": 2500},
}  # fmt: skip


def sample_payload(event_type: EventType, **overrides: Any) -> Payload:
    """The sample of `event_type` with `overrides` applied, validated by its model."""
    return PAYLOAD_MODELS[event_type].model_validate({**SAMPLES[event_type], **overrides})


def sample_envelope(event_type: EventType) -> dict[str, Any]:
    """The sample as a client receives it (through its first room)."""
    payload = sample_payload(event_type)
    room_event = event_type not in CONNECTION_EVENTS
    return {
        "offset": 42 if room_event else None,
        "epoch": "8c1f2a9e0b7d" if room_event else None,
        "id": EVENT_ID,
        "type": event_type.value,
        "room": None if event_type in CONNECTION_EVENTS else payload.target_rooms()[0],
        "timestamp": TIMESTAMP,
        "data": payload.model_dump(mode="json"),
    }
