"""What may travel on the Socket.IO Redis channel, checked before anything acts on it.

python-socketio trusts every message on its channel. The channel can be
reached by anything with PUBLISH rights, so each message is checked against
the shapes python-socketio itself writes (and this server's own kinds) and
dropped with a reason otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CANARY = "canary"

_OPTIONAL_STR = (str, type(None))
_ROOM = (str, list, type(None))
# method -> {field: accepted types}; fields not listed are ignored.
_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "emit": {"event": (str,), "data": (list,), "namespace": _OPTIONAL_STR, "room": _ROOM,
             "skip_sid": _ROOM, "callback": (list, type(None)), "binary": (bool, type(None))},
    "disconnect": {"sid": (str,), "namespace": _OPTIONAL_STR},
    "enter_room": {"sid": (str,), "room": (str,), "namespace": _OPTIONAL_STR},
    "leave_room": {"sid": (str,), "room": (str,), "namespace": _OPTIONAL_STR},
    "close_room": {"room": (str,), "namespace": _OPTIONAL_STR},
    "callback": {"sid": (str,), "id": (int,), "args": (list,), "namespace": _OPTIONAL_STR},
    CANARY: {},
}  # fmt: skip


def validate(message: Any, extra_methods: Iterable[str] = ()) -> str | None:
    """None when the message is well-formed, else a short reason (never the content)."""
    if not isinstance(message, dict):
        return f"expected an object, got {type(message).__name__}"
    method = message.get("method")
    if not isinstance(method, str):
        return "missing method"
    if not isinstance(message.get("host_id"), str):
        return "missing host_id"
    if method in extra_methods:
        return None
    shape = _SHAPES.get(method)
    if shape is None:
        return f"unknown method {method[:32]!r}"
    for field, types in shape.items():
        if field in ("namespace", "room", "skip_sid", "callback", "binary") and field not in message:
            continue
        if not isinstance(message.get(field), types):
            return f"{method}: bad {field}"
    room = message.get("room")
    if isinstance(room, list) and not all(isinstance(item, str) for item in room):
        return f"{method}: bad room"
    if method == "emit" and message.get("callback") is not None and len(message["callback"]) != 3:
        return "emit: bad callback"
    return None
