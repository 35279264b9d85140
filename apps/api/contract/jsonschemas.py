"""JSON Schema of everything on the wire, generated from the Pydantic models.

Payloads and acknowledgements are described as the server sends them
(serialisation mode: every field present); commands as the server accepts
them (validation mode). `document()` is one JSON Schema (draft 2020-12) with
a definition per payload, per event envelope, per command and per ack;
`components(ref_prefix)` gives the same definitions for embedding (AsyncAPI).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from websocket.protocol.acks import ErrorAck
from websocket.protocol.catalog import PAYLOAD_MODELS
from websocket.protocol.commands import COMMANDS
from websocket.protocol.envelope import EventEnvelope
from websocket.protocol.event_types import EventType

Schema = dict[str, Any]
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:realtime-event-server:wire"


class _Generator(GenerateJsonSchema):
    # "Project Id" titles on every field are noise for code generators and readers.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def event_name(event_type: EventType) -> str:
    """Definition name of an event's envelope: project.updated -> ProjectUpdatedEvent."""
    return PAYLOAD_MODELS[event_type].__name__ + "Event"


def input_schema(model: type[BaseModel]) -> Schema:
    """What `model` accepts (validation mode): the fields a producer must give, the types it may pass."""
    return model.model_json_schema(mode="validation", schema_generator=_Generator)


def _models() -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (m, "serialization") for m in PAYLOAD_MODELS.values()
    ]
    for command, ack in COMMANDS.values():
        pairs += [(command, "validation"), (ack, "serialization")]
    pairs.append((ErrorAck, "serialization"))
    return list(dict.fromkeys(pairs))


def envelope_schema(event_type: EventType | None, ref_prefix: str) -> Schema:
    """The envelope of one event type, or of any event when `event_type` is None.

    Derived from the `EventEnvelope` model, with `type` and `data` narrowed.
    """
    base = EventEnvelope.model_json_schema(mode="serialization")
    properties: dict[str, Schema] = {name: dict(prop) for name, prop in base["properties"].items()}
    for prop in properties.values():
        prop.pop("title", None)
    data: Schema = {"type": "object", "description": "The payload; its shape depends on `type`"}
    kind: Schema = {"type": "string", "enum": [t.value for t in EventType]}
    if event_type is not None:
        data = {"$ref": ref_prefix + PAYLOAD_MODELS[event_type].__name__}
        kind = {"const": event_type.value}
    properties["type"] = {**kind, "description": "The event type, also the Socket.IO event name"}
    properties["data"] = data
    return {
        "type": "object",
        "description": str(EventEnvelope.__doc__).strip(),
        "properties": properties,
        "required": [name for name in properties if name != "replayed"],
        "additionalProperties": False,
    }


@cache
def components(ref_prefix: str) -> dict[str, Schema]:
    """Every definition, with references written as `ref_prefix + name`."""
    _, top = models_json_schema(_models(), ref_template=ref_prefix + "{model}", schema_generator=_Generator)
    defs: dict[str, Schema] = dict(top["$defs"])
    defs["EventEnvelope"] = envelope_schema(None, ref_prefix)
    for event_type in EventType:
        defs[event_name(event_type)] = envelope_schema(event_type, ref_prefix)
    return defs


def document() -> Schema:
    """One self-contained JSON Schema: validates any event a client can receive."""
    prefix = "#/$defs/"
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "Real-time event server: events, commands and acknowledgements",
        "description": "The root validates any event; $defs hold each payload, envelope, command and ack.",
        "oneOf": [{"$ref": prefix + event_name(t)} for t in EventType],
        "$defs": components(prefix),
    }
