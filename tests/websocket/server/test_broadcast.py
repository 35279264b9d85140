"""The broadcaster inside the server process reaches exactly the subscribed clients."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from events.broadcaster import EventBroadcaster, get_broadcaster
from tests.conftest import ClientFactory
from tests.support.barrier import mark_in_process, reached
from tests.support.tokens import token

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

READ_ALL = ("projects:read", "agents:read", "workflows:read")


async def test_project_update_reaches_only_project_subscribers(connect: ClientFactory) -> None:
    project_id = uuid.uuid4()
    subscribed = await connect(token("sub-1", scopes=READ_ALL))
    await subscribed.subscribe(f"project:{project_id}")
    other_project = await connect(token("sub-2", scopes=READ_ALL))
    await other_project.subscribe(f"project:{uuid.uuid4()}")
    unsubscribed = await connect(token("sub-3", scopes=READ_ALL))

    ok = await get_broadcaster().broadcast_project_updated(
        project_id=project_id, project_name="My Project", repository_url="https://github.com/user/repo",
        status="active", updated_by="sub-1", changes={"status": "active"},
    )  # fmt: skip
    assert ok is True
    event = await subscribed.wait_for("project.updated")
    assert event["type"] == "project.updated"
    assert event["room"] == f"project:{project_id}"
    assert event["data"]["project_id"] == str(project_id)
    assert event["data"]["changes"] == {"status": "active"}
    assert uuid.UUID(event["id"]) and event["timestamp"].endswith("Z")

    # Published after the update, so a wrong delivery of the update would be there first.
    await reached(await mark_in_process("sub-2", "sub-3"), other_project, unsubscribed)
    assert other_project.received("project.updated") == []
    assert unsubscribed.received("project.updated") == []


async def test_workflow_events_reach_workflow_and_project_rooms(connect: ClientFactory) -> None:
    workflow_id, project_id = uuid.uuid4(), uuid.uuid4()
    watcher = await connect(token("wf-1", scopes=READ_ALL))
    await watcher.subscribe(f"workflow:{workflow_id}")
    project_member = await connect(token("wf-2", scopes=READ_ALL))
    await project_member.subscribe(f"project:{project_id}")

    assert await get_broadcaster().broadcast_workflow_progress(
        workflow_id=workflow_id, project_id=project_id, status="running", progress=40,
        current_step="Step 2", total_steps=5,
    )  # fmt: skip
    via_workflow = await watcher.wait_for("workflow.progress")
    via_project = await project_member.wait_for("workflow.progress")
    assert via_workflow["id"] == via_project["id"]
    assert (via_workflow["room"], via_project["room"]) == (f"workflow:{workflow_id}", f"project:{project_id}")
    assert via_workflow["data"]["progress"] == 40


async def test_user_and_global_rooms(connect: ClientFactory) -> None:
    alice = await connect(token("alice"))
    bob = await connect(token("bob"))
    project_id = uuid.uuid4()
    await get_broadcaster().broadcast_ai_suggestion(
        project_id=project_id, user_id="alice", suggestion_id=uuid.uuid4(), suggestion_type="refactor",
        title="Extract a function", content="...", confidence=0.9,
    )  # fmt: skip
    event = await alice.wait_for("ai.suggestion")
    assert event["room"] == "user:alice"
    await reached(await mark_in_process("bob"), bob)
    assert bob.received("ai.suggestion") == []


async def test_events_to_a_room_arrive_in_order(connect: ClientFactory) -> None:
    workflow_id = uuid.uuid4()
    client = await connect(token("order", scopes=READ_ALL))
    await client.subscribe(f"workflow:{workflow_id}")
    broadcaster = get_broadcaster()
    for step in range(50):
        await broadcaster.broadcast_workflow_progress(
            workflow_id=workflow_id, progress=step * 2, current_step=f"Step {step}"
        )
    events = await client.wait_count("workflow.progress", 50)
    assert [e["data"]["progress"] for e in events] == [step * 2 for step in range(50)]


async def test_invalid_arguments_raise_at_the_call_site(connect: ClientFactory) -> None:
    broadcaster = get_broadcaster()
    with pytest.raises(ValidationError):
        await broadcaster.broadcast_workflow_progress(workflow_id="nope", progress=5, current_step="s")
    # A misspelt or unknown keyword is a TypeError at the call (and a mypy error before it).
    with pytest.raises(TypeError, match="unexpected"):
        await broadcaster.broadcast_project_updated(  # type: ignore[call-arg]
            project_id=uuid.uuid4(), project_name="p", status="s", updated_by="u", unexpected="x"
        )


async def test_without_a_server_the_broadcast_returns_false() -> None:
    lonely = EventBroadcaster()
    assert await lonely.broadcast_project_deleted(project_id=uuid.uuid4(), deleted_by="u") is False


async def test_a_failing_transport_returns_false_and_does_not_raise() -> None:
    class Broken:
        name = "broken"

        async def send(self, event: object, rooms: object) -> bool:
            raise ConnectionError("down")

        async def aclose(self) -> None:
            return None

    broadcaster = EventBroadcaster(Broken())
    assert await broadcaster.broadcast_project_deleted(project_id=uuid.uuid4(), deleted_by="u") is False
