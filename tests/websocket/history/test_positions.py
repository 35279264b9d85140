"""History rules: offsets, epochs, bounds, and what a resume can recover."""

from __future__ import annotations

import dataclasses
import json
import uuid

from websocket.history.in_memory import MemoryHistory
from websocket.history.positions import NO_STREAM, Position
from websocket.presence.counts import LocalCounts
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.payloads import PrCreated, WorkflowProgress
from websocket.protocol.replay import Replay

WID, PID = uuid.uuid4(), uuid.uuid4()
ROOM = f"project:{PID}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def progress(i: int, workflow: uuid.UUID = WID) -> OutboundEvent:
    return OutboundEvent.create(
        WorkflowProgress(workflow_id=workflow, project_id=PID, progress=i, current_step="s")
    )


def pr(title: str) -> OutboundEvent:
    return OutboundEvent.create(
        PrCreated(pr_id=uuid.uuid4(), project_id=PID, title=title, author="a", branch="b")
    )


def test_offsets_increase_and_envelopes_carry_position() -> None:
    history = MemoryHistory(size=10, ttl=60, meta_ttl=3600)
    envelopes = [json.loads(history.append(ROOM, progress(i))[0]) for i in range(3)]
    assert [e["offset"] for e in envelopes] == [1, 2, 3]
    assert len({e["epoch"] for e in envelopes}) == 1 and envelopes[0]["epoch"]
    assert envelopes[0]["room"] == ROOM and envelopes[0]["data"]["progress"] == 0


async def test_position_of_a_room_without_events() -> None:
    history = MemoryHistory(size=10, ttl=60, meta_ttl=3600)
    assert await history.position(ROOM) == NO_STREAM
    recovery = await history.since(ROOM, NO_STREAM)
    assert recovery.recovered and recovery.events == []


async def test_a_client_that_joined_before_the_first_event_resumes_from_the_start() -> None:
    history = MemoryHistory(size=10, ttl=60, meta_ttl=3600)
    for i in range(3):
        history.append(ROOM, pr(f"PR {i}"))
    recovery = await history.since(ROOM, Position(0, ""))
    assert recovery.recovered and [e.offset for e in recovery.events] == [1, 2, 3]


async def test_size_bound() -> None:
    history = MemoryHistory(size=3, ttl=60, meta_ttl=3600)
    for i in range(6):
        history.append(ROOM, pr(str(i)))
    position = await history.position(ROOM)
    assert position.offset == 6
    assert (await history.since(ROOM, Position(3, position.epoch))).recovered
    lost = await history.since(ROOM, Position(2, position.epoch))
    assert (lost.recovered, lost.reason) == (False, "history_expired")


async def test_ttl_bound_and_long_lived_position() -> None:
    clock = Clock()
    history = MemoryHistory(size=10, ttl=60, meta_ttl=3600, clock=clock)
    history.append(ROOM, pr("a"))
    epoch = (await history.position(ROOM)).epoch
    clock.now += 61
    assert (await history.since(ROOM, Position(0, epoch))).reason == "history_expired"
    assert (await history.since(ROOM, Position(1, epoch))).recovered  # missed nothing: still fine
    clock.now += 3600
    assert (await history.since(ROOM, Position(1, epoch))).reason == "epoch_changed"  # stream forgotten


async def test_latest_policy_compacts_per_key_and_type() -> None:
    history = MemoryHistory(size=100, ttl=60, meta_ttl=3600)
    other = uuid.uuid4()
    for i in range(5):
        history.append(ROOM, progress(i))
        history.append(ROOM, progress(10 + i, other))
        if i % 2 == 0:
            history.append(ROOM, pr(str(i)))
    epoch = (await history.position(ROOM)).epoch
    compact = await history.since(ROOM, Position(0, epoch))
    kinds = [(e.type, json.loads(e.envelope)["data"].get("progress")) for e in compact.events]
    # offset order kept: pr0(3) pr2(8) progress4(11) progress14(12) pr4(13)
    assert kinds == [("pr.created", None), ("pr.created", None), ("workflow.progress", 4),
                     ("workflow.progress", 14), ("pr.created", None)]  # fmt: skip
    full = await history.since(ROOM, Position(0, epoch), full=True)
    assert len(full.events) == 13


def test_ephemeral_events_get_no_offset(monkeypatch: object) -> None:
    history = MemoryHistory(size=10, ttl=60, meta_ttl=3600)
    event = OutboundEvent.create(WorkflowProgress(workflow_id=WID, progress=1, current_step="s"))
    ephemeral = dataclasses.replace(event, replay=Replay.NONE)
    envelope, offset = history.append(ROOM, ephemeral)
    assert offset is None and json.loads(envelope)["offset"] is None


def test_local_presence_counts() -> None:
    counts = LocalCounts()
    assert counts.change("u", ["a", "b"], +1) == ["a", "b"]
    assert counts.change("u", ["a"], +1) == []
    assert counts.change("u", ["a", "b"], -1) == ["b"]
    assert counts.of("a") == {"u": 1} and counts.of("b") == {}
    assert counts.change("u", ["a"], -1) == ["a"] and counts.rooms == {}
