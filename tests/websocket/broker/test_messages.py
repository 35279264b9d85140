from __future__ import annotations

import pytest

from websocket.broker.messages import CANARY, validate

GOOD = [
    {"method": "emit", "host_id": "h", "event": "e", "data": [{}], "namespace": "/ws", "room": "r",
     "skip_sid": None, "callback": None, "binary": False},
    {"method": "emit", "host_id": "h", "event": "e", "data": [], "room": ["a", "b"]},
    {"method": "disconnect", "host_id": "h", "sid": "s", "namespace": "/ws"},
    {"method": "enter_room", "host_id": "h", "sid": "s", "room": "r"},
    {"method": "leave_room", "host_id": "h", "sid": "s", "room": "r"},
    {"method": "close_room", "host_id": "h", "room": "r"},
    {"method": "callback", "host_id": "h", "sid": "s", "id": 3, "args": []},
    {"method": CANARY, "host_id": "h"},
]  # fmt: skip

BAD = [
    [],
    "emit",
    None,
    {"host_id": "h"},
    {"method": 1, "host_id": "h"},
    {"method": "emit"},
    {"method": "emit", "host_id": "h", "event": 1, "data": []},
    {"method": "emit", "host_id": "h", "event": "e", "data": {}},
    {"method": "emit", "host_id": "h", "event": "e", "data": [], "room": {"x": 1}},
    {"method": "emit", "host_id": "h", "event": "e", "data": [], "room": [1]},
    {"method": "emit", "host_id": "h", "event": "e", "data": [], "callback": [1]},
    {"method": "disconnect", "host_id": "h"},
    {"method": "enter_room", "host_id": "h", "sid": "s", "room": None},
    {"method": "callback", "host_id": "h", "sid": "s", "id": "1", "args": []},
    {"method": "reboot", "host_id": "h"},
]


@pytest.mark.parametrize("message", GOOD)
def test_well_formed_messages_pass(message: object) -> None:
    assert validate(message) is None


@pytest.mark.parametrize("message", BAD)
def test_malformed_messages_get_a_reason(message: object) -> None:
    reason = validate(message)
    assert isinstance(reason, str) and reason


def test_extra_methods_are_accepted_when_registered() -> None:
    assert validate({"method": "revoke", "host_id": "h"}, extra_methods={"revoke"}) is None
    assert validate({"method": "revoke", "host_id": "h"}) is not None
