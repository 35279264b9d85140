"""A valid sample of every event type, from its model's `example`.

Used as the examples of the AsyncAPI document, by `python -m cli emit`, and
to learn which rooms each event can reach (by asking the sample, which sets
every optional routing field, for its `target_rooms()`).
"""

from __future__ import annotations

from typing import Any

from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS
from websocket.protocol.event_types import EventType, Payload

EVENT_ID = "2b1e4d7a-9c3f-4e8b-a6d5-7f0c1b2a3e94"
TIMESTAMP = "2026-01-15T09:30:00.000Z"


def sample_payload(event_type: EventType, **overrides: Any) -> Payload:
    """The example of `event_type`'s model with `overrides` applied, validated by the model."""
    model = PAYLOAD_MODELS[event_type]
    return model.model_validate({**model.example, **overrides})


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
