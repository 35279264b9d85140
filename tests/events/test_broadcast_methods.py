"""The generated `broadcast_<type>` methods: current, building the model, and typed for the caller."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contract import python
from contract.samples import sample_payload
from events.broadcaster import EventBroadcaster
from tests.support.servers import API_DIR
from tests.support.typecheck import run_mypy
from websocket.protocol.catalog import PAYLOAD_MODELS, PUBLISHABLE_EVENTS
from websocket.protocol.event_types import Payload
from websocket.protocol.payloads import ProjectUpdated

GENERATED = API_DIR / "events" / "broadcast_methods.py"


class Recording(EventBroadcaster):
    """Records what would be published instead of delivering it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[Payload, str | None]] = []

    async def publish(
        self, payload: Payload, *, rooms: Sequence[str] | None = None, idempotency_key: str | None = None
    ) -> bool:
        self.sent.append((payload, idempotency_key))
        return True


def test_committed_methods_are_generated_from_the_models() -> None:
    assert GENERATED.read_text() == python.render(), (
        "apps/api/events/broadcast_methods.py is out of date: run `make docs` (python -m contract)"
    )


@pytest.mark.parametrize("event_type", PUBLISHABLE_EVENTS, ids=str)
async def test_each_method_builds_its_model_and_publishes_it(event_type: Any) -> None:
    broadcaster = Recording()
    method = getattr(broadcaster, python.method_name(event_type))
    assert await method(**PAYLOAD_MODELS[event_type].example, idempotency_key="k") is True
    assert broadcaster.sent == [(sample_payload(event_type), "k")]


async def test_a_field_the_model_builds_is_fresh_each_time_and_never_none() -> None:
    broadcaster = Recording()
    fields = {"project_id": ProjectUpdated.example["project_id"], "project_name": "p", "status": "active"}
    await broadcaster.broadcast_project_updated(**fields, updated_by=7)
    await broadcaster.broadcast_project_updated(**fields, updated_by=7)
    (first, _), (second, _) = broadcaster.sent
    assert isinstance(first, ProjectUpdated) and isinstance(second, ProjectUpdated)
    assert first.changes == {} and first.changes is not second.changes
    assert first.updated_by == "7"
    with pytest.raises(ValidationError):  # the parameter's type refuses None, and so does the model
        await broadcaster.broadcast_project_updated(**fields, updated_by=7, changes=None)  # type: ignore[arg-type]


async def test_a_wrong_value_raises_at_the_call() -> None:
    broadcaster = Recording()
    with pytest.raises(ValidationError, match="progress"):
        await broadcaster.broadcast_workflow_progress(
            workflow_id="7c9e6679-7425-40de-944b-e07fc1f90ae7", progress=101, current_step="s"
        )
    assert broadcaster.sent == []


# One mypy run (the project's configuration: strict, pydantic plugin) over a caller:
# each call in CALLS must pass, each in WRONG must get an error containing its text.
CALLS = [
    'b.broadcast_workflow_progress(workflow_id=uuid4(), progress=40, current_step="Step 2")',
    'b.broadcast_workflow_progress(workflow_id=str(u), project_id=None, progress=1, current_step="s")',
    'b.broadcast_project_updated(project_id=u, project_name="p", status="a", updated_by=42, changes={})',
    'b.broadcast_agent_status_changed(agent_id=u, status="busy", previous_status=None)',
    'b.broadcast_issue_created(project_id=u, issue_id=u, title="t", author="a", labels=["bug"])',
    'b.broadcast_ai_suggestion(project_id=u, user_id=u, suggestion_id=u, suggestion_type="x", title="t",'
    ' content="c", idempotency_key="k")',
]
OF = 'of "BroadcastMethods" has incompatible type'
WRONG = {
    'b.broadcast_workflow_progress(workflow_id=u, progres=40, current_step="s")':
        'Unexpected keyword argument "progres" for "broadcast_workflow_progress"',
    'b.broadcast_workflow_progress(workflow_id=u, progress="40", current_step="s")':
        f'Argument "progress" to "broadcast_workflow_progress" {OF} "str"; expected "int"',
    'b.broadcast_workflow_progress(workflow_id=u, current_step="s")': 'Missing named argument "progress"',
    'b.broadcast_agent_status_changed(agent_id=u, status="sleeping")':
        f'Argument "status" to "broadcast_agent_status_changed" {OF}',
    'b.broadcast_project_updated(project_id=u, project_name="p", status="a", updated_by=1, changes=None)':
        f'Argument "changes" to "broadcast_project_updated" {OF} "None"',
    'b.broadcast_project_deleted(project_id=42, deleted_by="ops")':
        f'Argument "project_id" to "broadcast_project_deleted" {OF} "int"',
    "b.broadcast_agent_connected(agent_id=u)":
        '"EventBroadcaster" has no attribute "broadcast_agent_connected"',
}  # fmt: skip
REVEAL = "reveal_type(get_broadcaster().broadcast_workflow_progress)"
HEAD = """\
from uuid import uuid4

from events.broadcaster import get_broadcaster


async def calls() -> None:
    b = get_broadcaster()
    u = uuid4()
"""


def test_mypy_sees_the_parameters_of_every_method(tmp_path: Path) -> None:
    lines = HEAD.splitlines() + [f"    await {call}" for call in [*CALLS, *WRONG]] + ["", REVEAL]
    caller = tmp_path / "caller.py"
    caller.write_text("\n".join(lines) + "\n")
    out = run_mypy(caller)
    found: dict[int, list[str]] = {}
    for number, kind, message in re.findall(r"^.*caller\.py:(\d+): (error|note): (.*)$", out, re.M):
        if kind == "error" or message.startswith("Revealed type"):
            found.setdefault(int(number), []).append(message)
    for call, expected in WRONG.items():
        number = lines.index(f"    await {call}") + 1
        assert any(expected in message for message in found.pop(number, [])), (call, out)
    revealed = " ".join(found.pop(lines.index(REVEAL) + 1))
    assert found == {}, f"unexpected mypy errors:\n{out}"
    for parameter in (
        "def (*, workflow_id: uuid.UUID | str,",
        "project_id: uuid.UUID | str | None =,",
        "status: str =,",
        "progress: int,",
        "current_step: str,",
        "idempotency_key: str | None =)",
    ):
        assert parameter in revealed, revealed
    assert revealed.endswith('-> typing.Coroutine[Any, Any, bool]"'), revealed


def test_input_types_nest_and_what_cannot_be_typed_is_refused() -> None:
    uuids = {"type": "array", "items": {"format": "uuid", "type": "string"}}
    assert python.input_type({"anyOf": [uuids, {"type": "null"}]}) == "list[UUID | str] | None"
    assert (
        python.input_type({"type": "object", "additionalProperties": {"type": "integer"}}) == "dict[str, int]"
    )
    with pytest.raises(python.UnsupportedField, match="nested model"):
        python.input_type({"$ref": "#/$defs/Other"})
