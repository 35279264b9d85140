"""GitHub deliveries to event payloads: a pure mapping, no I/O.

| GitHub event, action | event |
|---|---|
| `pull_request` `opened`, `reopened` | `pr.created` |
| `pull_request` `closed` | `pr.closed` (`merged` says whether it was merged) |
| `pull_request`, any other action | `pr.updated` (`action` names it) |
| `issues` `opened`, `reopened` | `issue.created` |
| `issues` `closed` | `issue.closed` |
| `issues`, any other action | `issue.updated` |

GitHub's ids are integers; the events carry a stable UUID derived from the
html_url (`uuid5(NAMESPACE_URL, html_url)`) plus GitHub's `number` and `id`.
A payload that lacks a field the mapping needs raises `MappingError` naming
the field, never KeyError.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from websocket.protocol.event_types import JsonObject, Payload
from websocket.protocol.payloads import (
    IssueClosed,
    IssueCreated,
    IssueUpdated,
    PrClosed,
    PrCreated,
    PrUpdated,
)

HANDLED_EVENTS = frozenset({"pull_request", "issues"})
CREATED_ACTIONS = frozenset({"opened", "reopened"})
CLOSED_ACTION = "closed"

T = TypeVar("T")
_KIND_NAMES: dict[type, str] = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object"}


class MappingError(ValueError):
    """The delivery lacks what the mapping needs; the message names the field."""


def github_uuid(html_url: str) -> UUID:
    """The stable UUID of anything GitHub gives an html_url (a repository, a PR, an issue)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, html_url)


def optional(payload: Mapping[str, Any], path: str, kind: type[T]) -> T | None:
    """The value at a dotted path, None when absent or null; MappingError when of another type."""
    current: Any = payload
    for part in path.split("."):
        if not isinstance(current, Mapping):
            raise MappingError(f"{path.rsplit('.', 1)[0]} must be an object")
        current = current.get(part)
        if current is None:
            return None
    if not isinstance(current, kind) or (kind is int and isinstance(current, bool)):
        raise MappingError(f"{path} must be {_KIND_NAMES.get(kind, kind.__name__)}")
    return current


def require(payload: Mapping[str, Any], path: str, kind: type[T]) -> T:
    value = optional(payload, path, kind)
    if value is None:
        raise MappingError(f"{path} is missing")
    return value


def _reference(payload: Mapping[str, Any], key: str, id_field: str, project_id: UUID) -> dict[str, Any]:
    """Fields every PR and issue event carries: who it is on GitHub and in which project."""
    html_url = require(payload, f"{key}.html_url", str)
    return {
        "project_id": project_id,
        id_field: github_uuid(html_url),
        "github_url": html_url,
        "number": require(payload, f"{key}.number", int),
        "github_id": require(payload, f"{key}.id", int),
    }


def _names(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    return [item["name"] for item in items if isinstance(item, Mapping) and isinstance(item.get("name"), str)]


def _changes(payload: Mapping[str, Any]) -> JsonObject:
    """What an `updated` action changed, in a few small fields rather than GitHub's whole objects."""
    changes: JsonObject = {}
    raw = payload.get("changes")
    if payload.get("action") == "transferred" and isinstance(raw, Mapping):
        changes["new_issue_url"] = optional(payload, "changes.new_issue.html_url", str)
        changes["new_repository"] = optional(payload, "changes.new_repository.full_name", str)
    elif isinstance(raw, Mapping):
        changes.update(raw)  # `edited`: {field: {"from": old value}}
    for key, path in (
        ("label", "label.name"),
        ("assignee", "assignee.login"),
        ("requested_reviewer", "requested_reviewer.login"),
        ("requested_team", "requested_team.name"),
        ("milestone", "milestone.title"),
        ("type", "type.name"),
        ("before", "before"),
        ("after", "after"),
        ("reason", "reason"),
    ):
        value = optional(payload, path, str)
        if value is not None:
            changes[key] = value
    return changes


def _pr_status(pr: Mapping[str, Any]) -> str | None:
    if pr.get("merged") is True:
        return "merged"
    if pr.get("state") == "open" and pr.get("draft") is True:
        return "draft"
    state = pr.get("state")
    return state if isinstance(state, str) else None


def pull_request_event(payload: Mapping[str, Any], project_id: UUID) -> Payload:
    action = require(payload, "action", str)
    reference = _reference(payload, "pull_request", "pr_id", project_id)
    pr = require(payload, "pull_request", dict)
    sender = optional(payload, "sender.login", str)
    if action in CREATED_ACTIONS:
        return PrCreated(
            **reference,
            title=require(payload, "pull_request.title", str),
            description=optional(payload, "pull_request.body", str),
            author=require(payload, "pull_request.user.login", str),
            branch=require(payload, "pull_request.head.ref", str),
            base_branch=optional(payload, "pull_request.base.ref", str),
            status=_pr_status(pr) or "open",
        )
    if action == CLOSED_ACTION:
        merged = optional(payload, "pull_request.merged", bool)
        if merged is None:  # older payloads: merged_at is set exactly when it was merged
            merged = pr.get("merged_at") is not None
        return PrClosed(
            **reference, merged=merged, title=optional(payload, "pull_request.title", str), closed_by=sender
        )
    return PrUpdated(
        **reference,
        action=action,
        title=optional(payload, "pull_request.title", str),
        status=_pr_status(pr),
        updated_by=sender,
        changes=_changes(payload),
    )


def issues_event(payload: Mapping[str, Any], project_id: UUID) -> Payload:
    action = require(payload, "action", str)
    reference = _reference(payload, "issue", "issue_id", project_id)
    sender = optional(payload, "sender.login", str)
    if action in CREATED_ACTIONS:
        return IssueCreated(
            **reference,
            title=require(payload, "issue.title", str),
            description=optional(payload, "issue.body", str),
            author=require(payload, "issue.user.login", str),
            labels=_names(require(payload, "issue", dict).get("labels")),
            status=optional(payload, "issue.state", str) or "open",
        )
    if action == CLOSED_ACTION:
        return IssueClosed(
            **reference,
            title=optional(payload, "issue.title", str),
            closed_by=sender,
            reason=optional(payload, "issue.state_reason", str),
        )
    return IssueUpdated(
        **reference,
        action=action,
        title=optional(payload, "issue.title", str),
        status=optional(payload, "issue.state", str),
        updated_by=sender,
        changes=_changes(payload),
    )


def to_event(github_event: str, payload: Mapping[str, Any], project_id: UUID) -> Payload:
    """The event for a delivery of a handled type (see HANDLED_EVENTS)."""
    if github_event == "pull_request":
        return pull_request_event(payload, project_id)
    if github_event == "issues":
        return issues_event(payload, project_id)
    raise ValueError(f"GitHub event {github_event!r} is not handled")
