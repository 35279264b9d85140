"""The one walk over JSON Schema that every generator shares.

The TypeScript definitions (typescript.py), the event reference of
WEBSOCKET_API.md (markdown.py) and the broadcaster's typed methods (python.py)
each write a schema node as a type of their own language. `render` decides
what a node is, in one place; each generator only says how its language spells
each kind of node (a `Spelling`). `properties` lists an object's fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

Schema = dict[str, Any]


class Spelling(Protocol):
    """How one language writes each kind of JSON-Schema node."""

    def ref(self, name: str) -> str:
        """A reference to a named definition (`$ref`, the name after its last `/`)."""
        ...

    def literals(self, values: list[Any]) -> str:
        """One of these values (`enum`, or `const` as a single value)."""
        ...

    def union(self, options: list[str]) -> str:
        """Any of these (`anyOf`, `oneOf`), already rendered."""
        ...

    def array(self, item: str) -> str:
        """A list of `item`, already rendered."""
        ...

    def mapping(self, schema: Schema) -> str:
        """An object with free-form properties."""
        ...

    def scalar(self, kind: str, schema: Schema) -> str:
        """`string`, `integer`, `number`, `boolean`, `null`, or "" when the node says no type;
        `schema` carries its `format` and bounds."""
        ...


def render(schema: Schema, spelling: Spelling) -> str:
    """`schema` as a type, spelt by `spelling`."""
    if "$ref" in schema:
        return spelling.ref(str(schema["$ref"]).rsplit("/", 1)[-1])
    if "const" in schema:
        return spelling.literals([schema["const"]])
    if "enum" in schema:
        return spelling.literals(list(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return spelling.union([render(option, spelling) for option in schema[key]])
    kind = schema.get("type")
    if kind == "array":
        return spelling.array(render(schema.get("items", {}), spelling))
    if kind == "object":
        return spelling.mapping(schema)
    return spelling.scalar(str(kind or ""), schema)


@dataclass(frozen=True, slots=True)
class Property:
    """One field of an object schema."""

    name: str
    schema: Schema
    required: bool

    @property
    def description(self) -> str | None:
        text = self.schema.get("description")
        return str(text) if text else None

    @property
    def value(self) -> Schema:
        """The field's schema without its `null` option (where `format` and bounds are)."""
        options = self.schema.get("anyOf", [self.schema])
        return next((o for o in options if o.get("type") != "null"), self.schema)


def properties(schema: Schema, required: Iterable[str] | None = None) -> list[Property]:
    """The fields of an object schema in order; `required` overrides the schema's own list
    (the docs mark what a producer must give, while the wire schema marks every field)."""
    names = set(schema.get("required", []) if required is None else required)
    return [Property(name, prop, name in names) for name, prop in schema.get("properties", {}).items()]
