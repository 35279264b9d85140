"""The envelope written by formatting reads back as the dict-and-dumps one did (issue 18)."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime

from websocket.protocol.envelope import OutboundEvent, new_event_id, now_timestamp, utc_timestamp
from websocket.protocol.payloads import WorkflowProgress

WID = uuid.UUID("6fa459ea-ee8a-3ca4-894e-db77e160355e")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_event_ids_are_distinct_random_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(2000)]  # several pools
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_timestamp_is_now_as_utc_timestamp_prints_it() -> None:
    before = datetime.now(UTC)
    text = now_timestamp()
    after = datetime.now(UTC)
    assert TIMESTAMP.match(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= moment <= after
    assert utc_timestamp(moment) == text


def test_timestamp_follows_the_clock_across_milliseconds() -> None:
    first = now_timestamp()
    deadline = time.monotonic() + 1
    while now_timestamp() == first and time.monotonic() < deadline:
        pass
    assert now_timestamp() > first


def test_envelope_has_the_keys_and_values_of_a_dumped_dict() -> None:
    payload = WorkflowProgress(workflow_id=WID, progress=5, current_step='quote " and \\ émoji 🎉')
    event = OutboundEvent.create(payload)
    for room, offset, epoch in ((f"workflow:{WID}", 3, "e1"), (None, None, None), ('odd "room"', 1, "x")):
        wire = event.envelope(room, offset, epoch)
        expected = {
            "offset": offset,
            "epoch": epoch,
            "id": event.id,
            "type": "workflow.progress",
            "room": room,
            "timestamp": event.timestamp,
            "data": json.loads(payload.model_dump_json()),
        }
        assert json.loads(wire) == expected
        assert list(json.loads(wire)) == list(expected)  # same key order too


def test_latest_replay_key_is_the_key_field() -> None:
    event = OutboundEvent.create(WorkflowProgress(workflow_id=WID, progress=5, current_step="a"))
    assert event.key == str(WID)
