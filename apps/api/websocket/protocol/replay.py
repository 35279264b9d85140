"""Replay policy: what a client that missed events of a type gets back on resume.

Declared on each payload model (`replay = Replay.latest("workflow_id")`):

* `all`: every missed event, in order (the default);
* `latest`: only the newest missed event per value of a key field, e.g. the
  last `workflow.progress` of each workflow;
* `none`: ephemeral; never stored, carries no offset, live delivery only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol
from uuid import UUID

Mode = Literal["all", "latest", "none"]

_UUID_TEXTS: dict[UUID, str] = {}
_UUID_TEXTS_KEPT = 4096  # past it they are made again


def text_of(value: object) -> str:
    """`str(value)`, kept for UUIDs: printing one costs half a microsecond, and a
    producer's events name the same few workflows and agents again and again."""
    if type(value) is not UUID:
        return str(value)
    text = _UUID_TEXTS.get(value)
    if text is None:
        if len(_UUID_TEXTS) >= _UUID_TEXTS_KEPT:
            _UUID_TEXTS.clear()
        text = _UUID_TEXTS[value] = str(value)
    return text


@dataclass(frozen=True, slots=True)
class Replay:
    mode: Mode = "all"
    key: str | None = None

    ALL: ClassVar[Replay]
    NONE: ClassVar[Replay]

    @classmethod
    def latest(cls, key: str) -> Replay:
        return cls("latest", key)

    @property
    def stored(self) -> bool:
        return self.mode != "none"

    def key_of(self, payload: Any) -> str:
        """The compaction key of one payload ('' when the policy keeps everything)."""
        return text_of(getattr(payload, self.key)) if self.mode == "latest" and self.key else ""

    def describe(self) -> str:
        return f"latest per `{self.key}`" if self.mode == "latest" else self.mode


Replay.ALL = Replay("all")
Replay.NONE = Replay("none")


class Stored(Protocol):
    offset: int
    type: str
    key: str


def compact(entries: Iterable[Stored], full: bool = False) -> list[Stored]:
    """Drop entries superseded by a later one of the same type and key (order kept).

    An empty key means the type replays every event; `full` replays everything.
    """
    entries = list(entries)
    if full:
        return entries
    newest: dict[tuple[str, str], int] = {}
    for entry in entries:
        if entry.key:
            newest[(entry.type, entry.key)] = entry.offset
    return [e for e in entries if not e.key or newest[(e.type, e.key)] == e.offset]
