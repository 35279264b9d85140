"""The AsyncAPI 3.0 document of the WebSocket API, served at `/ws/asyncapi.json`.

It describes the server: rooms are channels, events are messages the server
sends on them, and client commands are operations it receives, each with its
acknowledgement as the reply. Which rooms an event reaches is asked of the
event's model (`target_rooms()` of its sample, which sets every optional
routing field), not kept in a second table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from contract.jsonschemas import components, event_name
from contract.samples import sample_envelope, sample_payload
from websocket.protocol.acks import ErrorAck
from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS
from websocket.protocol.commands import COMMANDS
from websocket.protocol.event_types import EventType
from websocket.protocol.rooms import RoomKind, parse_room

Doc = dict[str, Any]
API_VERSION = "0.1.0"
REF = "#/components/schemas/"
CONNECTION = "connection"

# channel key -> (address, parameter name, description)
ROOMS: dict[RoomKind, tuple[str, str | None, str]] = {
    RoomKind.USER: (
        "user:{userId}",
        "userId",
        "One user's connections; joined automatically, cannot be left.",
    ),
    RoomKind.GLOBAL: ("global", None, "Every connection; joined automatically, cannot be left."),
    RoomKind.PROJECT: ("project:{projectId}", "projectId", "Everything about one project (subscribe)."),
    RoomKind.AGENT: ("agent:{agentId}", "agentId", "One agent's status (subscribe)."),
    RoomKind.WORKFLOW: ("workflow:{workflowId}", "workflowId", "One workflow's lifecycle (subscribe)."),
}
PARAMETERS = {
    "userId": "The token's `sub`.",
    "projectId": "A UUID, lower case.",
    "agentId": "A UUID, lower case.",
    "workflowId": "A UUID, lower case.",
}


def message_key(name: str) -> str:
    """project.updated -> projectUpdated; debug:rooms -> debugRooms (AsyncAPI keys allow no ':')."""
    head, *rest = name.replace(":", ".").replace("_", ".").split(".")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def rooms_of(event_type: EventType) -> list[RoomKind]:
    if event_type in CONNECTION_EVENTS:
        return []
    return [parse_room(room).kind for room in sample_payload(event_type).target_rooms()]


def _event_message(event_type: EventType) -> Doc:
    model = PAYLOAD_MODELS[event_type]
    return {
        "name": event_type.value,
        "title": event_type.value,
        "summary": (model.__doc__ or "").strip().splitlines()[0],
        "description": f"Rooms: {model.routing}.",
        "payload": {"$ref": REF + event_name(event_type)},
        "examples": [{"name": "sample", "payload": sample_envelope(event_type)}],
    }


def _command_messages(name: str) -> dict[str, Doc]:
    command, ack = COMMANDS[name]
    key = message_key(name)
    return {
        key: {
            "name": name,
            "title": name,
            "summary": f"Client command `{name}`, emitted with an acknowledgement callback.",
            "payload": {"$ref": REF + command.__name__},
        },
        key + "Ack": {
            "name": f"{name} ack",
            "title": f"{name} acknowledgement",
            "summary": "The answer to the acknowledgement callback.",
            "payload": {"oneOf": [{"$ref": REF + ack.__name__}, {"$ref": REF + ErrorAck.__name__}]},
        },
    }


def _messages() -> dict[str, Doc]:
    messages = {message_key(t.value): _event_message(t) for t in EventType}
    for name in COMMANDS:
        messages.update(_command_messages(name))
    return messages


def _channels() -> dict[str, Doc]:
    channels: dict[str, Doc] = {}
    for kind, (address, param, description) in ROOMS.items():
        events = [t for t in EventType if kind in rooms_of(t)]
        channel: Doc = {
            "address": address,
            "title": f"Room {address}",
            "description": description,
            "messages": {
                message_key(t.value): {"$ref": f"#/components/messages/{message_key(t.value)}"}
                for t in events
            },
        }
        if param:
            channel["parameters"] = {param: {"description": PARAMETERS[param]}}
        channels[kind.value] = channel
    own = [message_key(t.value) for t in EventType if t in CONNECTION_EVENTS]
    own += [key for name in COMMANDS for key in (message_key(name), message_key(name) + "Ack")]
    channels[CONNECTION] = {
        "address": None,
        "title": "The connection itself",
        "description": "Events sent to one connection only, and the commands a client sends "
        "with their answers.",
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in own},
    }
    return channels


def _operations(channels: dict[str, Doc]) -> dict[str, Doc]:
    operations: dict[str, Doc] = {}
    for key, channel in channels.items():
        events = [m for m in channel["messages"] if key != CONNECTION or m.startswith(CONNECTION)]
        if events:
            operations[f"send{key.capitalize()}Events"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{key}"},
                "summary": f"Events the server sends to {channel['title'][0].lower()}{channel['title'][1:]}.",
                "messages": [{"$ref": f"#/channels/{key}/messages/{m}"} for m in events],
            }
    for name in COMMANDS:
        key = message_key(name)
        operations[key] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CONNECTION}"},
            "summary": f"The client emits `{name}`; the server answers through the acknowledgement.",
            "messages": [{"$ref": f"#/channels/{CONNECTION}/messages/{key}"}],
            "reply": {
                "channel": {"$ref": f"#/channels/{CONNECTION}"},
                "messages": [{"$ref": f"#/channels/{CONNECTION}/messages/{key}Ack"}],
            },
        }
    return operations


@cache
def document() -> Doc:
    channels = _channels()
    return {
        "asyncapi": "3.0.0",
        "id": "urn:realtime-event-server",
        "info": {
            "title": "Real-time event server",
            "version": API_VERSION,
            "description": (
                "Socket.IO (protocol v5, Engine.IO v4) namespace `/ws`. Connect with "
                '`io("http://host/ws", {path: "/ws/socket.io", auth: {token}})`. Every event arrives as '
                "one envelope argument under its type as the event name. See WEBSOCKET_API.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8000",
                "protocol": "ws",
                "pathname": "/ws/socket.io",
                "title": "Development server",
                "description": "Engine.IO endpoint (also at /socket.io); Socket.IO namespace /ws.",
                "security": [{"$ref": "#/components/securitySchemes/jwt"}],
            }
        },
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "schemas": components(REF),
            "messages": _messages(),
            "securitySchemes": {
                "jwt": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "An HS256 access JWT, sent as `auth.token` in the Socket.IO handshake "
                    "(preferred) or as the `token` query parameter.",
                }
            },
        },
    }
