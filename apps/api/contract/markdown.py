"""The event reference of WEBSOCKET_API.md, generated from the payload models.

`python -m contract.markdown` prints it, `python -m contract.markdown
../../WEBSOCKET_API.md` rewrites it in place (`make docs`); a test fails when the section of
WEBSOCKET_API.md between the markers differs, so the docs cannot drift from
the wire.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from websocket.protocol.catalog import CONNECTION_EVENTS, PAYLOAD_MODELS, SERVER_OWNED_EVENTS
from websocket.protocol.event_types import EventType

BEGIN = "<!-- BEGIN GENERATED EVENT REFERENCE (python -m contract.markdown) -->"
END = "<!-- END GENERATED EVENT REFERENCE -->"


def _type_of(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " \\| ".join(_type_of(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f'"{value}"' for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"{_type_of(schema.get('items', {}))}[]"
    if kind == "string" and "format" in schema:
        fmt = str(schema["format"])
        return {"uuid": "uuid", "date-time": "datetime"}.get(fmt, fmt)
    bounds = [f"≥ {schema['minimum']}"] if "minimum" in schema else []
    bounds += [f"≤ {schema['maximum']}"] if "maximum" in schema else []
    return f"{kind} ({', '.join(bounds)})" if bounds else str(kind)


def event_section(event_type: EventType) -> str:
    model = PAYLOAD_MODELS[event_type]
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
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
    for name, prop in schema["properties"].items():
        notes = prop.get("description", "")
        if name not in required and prop.get("default") not in (None, {}, []):
            notes = f"default `{prop['default']}`" + (f"; {notes}" if notes else "")
        lines.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else 'no'} | {notes} |")
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
