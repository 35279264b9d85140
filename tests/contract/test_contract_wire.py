"""What the server really sends matches the published schema, and the documents are served."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

from contract import asyncapi, jsonschemas
from contract.samples import sample_payload
from events.broadcaster import get_broadcaster
from tests.conftest import ClientFactory
from tests.support.servers import LiveServer
from tests.support.tokens import token
from websocket.protocol.catalog import CONNECTION_EVENTS
from websocket.protocol.event_types import EventType

SCHEMA = jsonschemas.document()
PROJECT_ROOM = sample_payload(EventType.PROJECT_UPDATED).target_rooms()[0]
# Every room a sample reaches but the user's own (joined on connect, by the token's sub).
SAMPLE_ROOMS = sorted(
    {
        room
        for event_type in EventType
        if event_type not in CONNECTION_EVENTS
        for room in sample_payload(event_type).target_rooms()
        if not room.startswith("user:")
    }
)


def validator_for(definition: str | None = None) -> Draft202012Validator:
    """The whole document (any event), or one of its definitions."""
    schema: dict[str, Any] = SCHEMA
    if definition is not None:
        schema = {k: v for k, v in SCHEMA.items() if k != "oneOf"} | {"$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


async def test_documents_are_served(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        served_asyncapi = (await http.get("/ws/asyncapi.json")).json()
        served_schema = (await http.get("/ws/schema.json")).json()
    assert served_asyncapi == asyncapi.document()
    assert served_schema == SCHEMA


async def test_real_acknowledgements_match_their_schemas(connect: ClientFactory) -> None:
    client = await connect(token("schema-acks"))
    validator_for("SubscribeAck").validate(await client.call("subscribe", {"room": PROJECT_ROOM}))
    resumed = await client.call("subscribe", {"room": PROJECT_ROOM, "since": {"offset": 0, "epoch": ""}})
    validator_for("SubscribeAck").validate(resumed)
    validator_for("PresenceAck").validate(await client.call("presence", {"room": PROJECT_ROOM}))
    validator_for("PresenceAck").validate(await client.call("presence", {"room": "global"}))  # totals only
    validator_for("RoomAck").validate(await client.call("unsubscribe", {"room": PROJECT_ROOM}))
    validator_for("RoomsAck").validate(await client.call("debug:rooms", {}))
    for bad in ({"room": "nowhere"}, {"room": "user:someone-else"}, {"room": "global", "extra": 1}):
        validator_for("ErrorAck").validate(await client.call("subscribe", bad))
    validator_for("ErrorAck").validate(await client.call("unsubscribe", {"room": "global"}))


async def test_every_event_as_received_matches_the_schema(connect: ClientFactory) -> None:
    client = await connect(token("user-42"))
    for room in SAMPLE_ROOMS:
        await client.subscribe(room)
    established = await client.wait_for("connection.established")
    validator = validator_for()
    validator.validate(established)

    broadcaster = get_broadcaster()
    for event_type in EventType:
        if event_type not in CONNECTION_EVENTS:
            assert await broadcaster.publish(sample_payload(event_type))
    for event_type in EventType:
        if event_type in CONNECTION_EVENTS:
            continue
        received = await client.wait_for(event_type.value)
        validator.validate(received)
        validator_for(jsonschemas.event_name(event_type)).validate(received)
