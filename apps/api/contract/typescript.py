"""TypeScript definitions for clients, generated from the same JSON Schema (walked by `contract.walk`).

The output (`clients/typescript/events.d.ts`) types socket.io-client's
`Socket<ServerToClientEvents, ClientToServerEvents>`: every event name with
its envelope and payload, every command with its payload and acknowledgement.
"""

from __future__ import annotations

import json
from typing import Any

from contract import walk
from contract.jsonschemas import components
from contract.walk import Property, Schema
from websocket.protocol.acks import ErrorAck
from websocket.protocol.catalog import PAYLOAD_MODELS
from websocket.protocol.commands import COMMANDS
from websocket.protocol.event_types import EventType
from websocket.protocol.notices import LEGACY_ESTABLISHED

PREFIX = "#/$defs/"
HEADER = """\
// Generated from the models of apps/api/websocket/protocol/ by `python -m contract`
// (run in apps/api). Do not edit: a test fails when this file differs from the models.
"""


class _TypeScript:
    def ref(self, name: str) -> str:
        return name

    def literals(self, values: list[Any]) -> str:
        return " | ".join(json.dumps(value) for value in values)

    def union(self, options: list[str]) -> str:
        return " | ".join(options)

    def array(self, item: str) -> str:
        return f"({item})[]" if "|" in item else f"{item}[]"

    def mapping(self, schema: Schema) -> str:
        return "{ [key: string]: unknown }"

    def scalar(self, kind: str, schema: Schema) -> str:
        return {
            "string": "string",
            "integer": "number",
            "number": "number",
            "boolean": "boolean",
            "null": "null",
        }.get(kind, "unknown")


def ts_type(schema: Schema) -> str:
    return walk.render(schema, _TypeScript())


def _doc(text: str | None, indent: str = "") -> list[str]:
    return [f"{indent}/** {' '.join(text.split())} */"] if text else []


def _notes(prop: Property) -> str | None:
    notes = [f"format: {prop.value['format']}"] if "format" in prop.value else []
    notes += [prop.description] if prop.description else []
    return "; ".join(notes) or None


def declaration(name: str, schema: Schema) -> list[str]:
    lines = _doc(schema.get("description"))
    if schema.get("type") != "object":
        return [*lines, f"export type {name} = {ts_type(schema)};"]
    if not schema.get("properties"):
        return [*lines, f"export type {name} = Record<string, never>;"]
    lines.append(f"export interface {name} {{")
    for prop in walk.properties(schema):
        lines += _doc(_notes(prop), "  ")
        lines.append(f"  {prop.name}{'' if prop.required else '?'}: {ts_type(prop.schema)};")
    lines.append("}")
    return lines


def render() -> str:
    defs = components(PREFIX)
    out = [HEADER]
    for name, schema in defs.items():
        if name == "EventEnvelope" or name.endswith("Event"):
            continue
        out += [*declaration(name, schema), ""]
    out.append("/** Event type names: each is also the Socket.IO event name. */")
    out.append("export type EventType =\n" + "\n".join(f'  | "{t.value}"' for t in EventType) + ";\n")
    out.append("/** Event type -> its payload (`event.data`). */")
    out.append("export interface EventPayloads {")
    out += [f'  "{t.value}": {PAYLOAD_MODELS[t].__name__};' for t in EventType]
    out.append("}\n")
    out += [
        "/** What every event looks like on the wire; listen by `type`, read `data`. */",
        "export interface EventEnvelope<T extends EventType = EventType> {",
        "  /** Position in the room's stream, strictly increasing per room; null when not kept */",
        "  offset: number | null;",
        "  /** Identity of the room's stream; a new epoch means its history was reset */",
        "  epoch: string | null;",
        "  /** format: uuid; the same in every room the event is delivered to */",
        "  id: string;",
        "  type: T;",
        "  /** The room it was delivered through; null when sent to one connection */",
        "  room: string | null;",
        "  /** format: date-time; ISO-8601 UTC with milliseconds */",
        "  timestamp: string;",
        "  data: EventPayloads[T];",
        "  /** Present, and true, on events re-sent by a resume */",
        "  replayed?: boolean;",
        "}\n",
        "/** Any event, narrowed by `type`. */",
        "export type AnyEvent = { [K in EventType]: EventEnvelope<K> }[EventType];\n",
        "/** Listen events for socket.io-client's `Socket<ServerToClientEvents, ClientToServerEvents>`. */",
        "export type ServerToClientEvents = {",
        "  [K in EventType]: (event: EventEnvelope<K>) => void;",
        "} & {",
        f'  /** Deprecated alias of "connection.established". */\n  {LEGACY_ESTABLISHED}: '
        '(event: EventEnvelope<"connection.established">) => void;',
        "};\n",
        "/** Client command -> its payload. */",
        "export interface CommandPayloads {",
        *[f'  "{name}": {command.__name__};' for name, (command, _) in COMMANDS.items()],
        "}\n",
        f"/** Client command -> its acknowledgement (success, or {ErrorAck.__name__}). */",
        "export interface CommandAcks {",
        *[f'  "{name}": {ack.__name__} | {ErrorAck.__name__};' for name, (_, ack) in COMMANDS.items()],
        "}\n",
        "/** Emit events: every command takes its payload and an acknowledgement callback. */",
        "export type ClientToServerEvents = {",
        "  [K in keyof CommandPayloads]: (",
        "    payload: CommandPayloads[K],",
        "    ack: (answer: CommandAcks[K]) => void,",
        "  ) => void;",
        "};",
    ]
    return "\n".join(out) + "\n"
