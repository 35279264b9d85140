"""The event reference of WEBSOCKET_API.md, generated from the payload models.

`python -m contract.markdown` prints it, `python -m contract.markdown
../../WEBSOCKET_API.md` rewrites it in place (`make docs`); a test fails when the section of
WEBSOCKET_API.md between the markers differs, so the docs cannot drift from
the wire. The schemas are walked as the TypeScript's are (`contract.walk`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contract import walk
from contract.jsonschemas import components, input_schema
from contract.walk import Schema
from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS, SERVER_OWNED_EVENTS
from websocket.protocol.event_types import EventType

BEGIN = "<!-- BEGIN GENERATED EVENT REFERENCE (python -m contract.markdown) -->"
END = "<!-- END GENERATED EVENT REFERENCE -->"
REF = "#/$defs/"


class _Markdown:
    def ref(self, name: str) -> str:
        return name

    def literals(self, values: list[Any]) -> str:
        return " \\| ".join(json.dumps(value) for value in values)

    def union(self, options: list[str]) -> str:
        return " \\| ".join(options)

    def array(self, item: str) -> str:
        return f"{item}[]"

    def mapping(self, schema: Schema) -> str:
        return "object"

    def scalar(self, kind: str, schema: Schema) -> str:
        if kind == "string" and "format" in schema:
            fmt = str(schema["format"])
            return {"uuid": "uuid", "date-time": "datetime"}.get(fmt, fmt)
        bounds = [f"≥ {schema['minimum']}"] if "minimum" in schema else []
        bounds += [f"≤ {schema['maximum']}"] if "maximum" in schema else []
        kind = kind or "any"
        return f"{kind} ({', '.join(bounds)})" if bounds else kind


def event_section(event_type: EventType) -> str:
    model = PAYLOAD_MODELS[event_type]
    # The types are the wire's (the definitions the TypeScript is generated from);
    # "required" is what a producer must give (what the model accepts).
    schema = components(REF)[model.__name__]
    required = input_schema(model).get("required", [])
    lines = [
        f"### `{event_type.value}`",
        "",
        (model.__doc__ or "").strip().splitlines()[0],
        "",
        f"Rooms: {model.routing}.",
        "",
        f"Replay on resume: {_replay(event_type)}.",
        "",
        "| field | type | required | notes |",
        "|---|---|---|---|",
    ]
    for prop in walk.properties(schema, required):
        notes = prop.description or ""
        if not prop.required and prop.schema.get("default") not in (None, {}, []):
            notes = f"default `{prop.schema['default']}`" + (f"; {notes}" if notes else "")
        kind = walk.render(prop.schema, _Markdown())
        lines.append(f"| `{prop.name}` | {kind} | {'yes' if prop.required else 'no'} | {notes} |")
    return "\n".join(lines)


def _replay(event_type: EventType) -> str:
    if event_type in CONNECTION_EVENTS:
        return "not applicable (sent to one connection, not kept)"
    return PAYLOAD_MODELS[event_type].replay.describe()


def _sender(event_type: EventType) -> str:
    return "the server only" if event_type in SERVER_OWNED_EVENTS else "producers"


def routing_table() -> str:
    rows = ["| event | delivered to | replay on resume | sent by |", "|---|---|---|---|"]
    rows += [
        f"| `{t.value}` | {PAYLOAD_MODELS[t].routing} | {_replay(t)} | {_sender(t)} |" for t in EventType
    ]
    return "\n".join(rows)


def render() -> str:
    sections = [event_section(event_type) for event_type in EventType]
    parts = ["### Routing and replay policy of each event", routing_table(), *sections]
    return "\n".join([BEGIN, "", "\n\n".join(parts), "", END])


def write_into(path: Path) -> None:
    """Replace the generated section of a Markdown file in place."""
    text = path.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    path.write_text(text[:start] + render() + text[end:])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write_into(Path(sys.argv[1]))
    else:
        print(render())
