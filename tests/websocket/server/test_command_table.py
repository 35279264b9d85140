"""The server's commands are the protocol's: one implementation per command of `COMMANDS`, no more.

Unit tests, no server: the table of implementations (websocket/server/commands.py)
against the protocol's (websocket/protocol/commands.py), and the dispatcher
(websocket/server/dispatch.py) registering, validating and answering from it.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import pytest

from websocket.access.tokens import Principal
from websocket.protocol.commands import COMMANDS, Command
from websocket.server.commands import IMPLEMENTATIONS, implements
from websocket.server.connections import Connection, ConnectionRegistry
from websocket.server.dispatch import Ack, Dispatcher, check_table
from websocket.server.rate_limit import CommandRateLimit


def test_every_command_has_exactly_one_implementation_and_every_implementation_a_command() -> None:
    assert sorted(IMPLEMENTATIONS) == sorted(COMMANDS)
    check_table(IMPLEMENTATIONS)  # what the dispatcher checks when the server is built


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_implementation_takes_the_payload_model_the_protocol_names(name: str) -> None:
    hints = typing.get_type_hints(IMPLEMENTATIONS[name])
    assert hints["cmd"] is COMMANDS[name][0]


def test_a_second_implementation_of_a_command_fails_at_once() -> None:
    before = dict(IMPLEMENTATIONS)
    with pytest.raises(ValueError, match="implemented twice"):

        @implements("subscribe")
        async def subscribe_again(self: object, conn: Connection, cmd: Command) -> Ack:
            return {}

    assert before == IMPLEMENTATIONS


def test_an_implementation_of_no_command_fails_at_once() -> None:
    with pytest.raises(ValueError, match="does not have"):

        @implements("teleport")
        async def teleport(self: object, conn: Connection, cmd: Command) -> Ack:
            return {}

    assert "teleport" not in IMPLEMENTATIONS


async def _answer(conn: Connection, cmd: Any) -> Ack:
    return {"status": "success", "got": cmd}


def test_a_command_without_an_implementation_stops_the_server_being_built() -> None:
    table = {name: _answer for name in COMMANDS}
    del table["presence"]
    with pytest.raises(ValueError, match=r"missing \['presence'\]"):
        Dispatcher(ConnectionRegistry(), CommandRateLimit(20, control=None), table)  # type: ignore[arg-type]
    table = {name: _answer for name in [*COMMANDS, "teleport"]}
    with pytest.raises(ValueError, match=r"not in the protocol \['teleport'\]"):
        Dispatcher(ConnectionRegistry(), CommandRateLimit(20, control=None), table)  # type: ignore[arg-type]


class FakeServer:
    """Records what the dispatcher registers (python-socketio's `on`)."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Callable[..., Any]] = {}

    def on(self, event: str, handler: Callable[..., Any], namespace: str) -> None:
        self.handlers[(namespace, event)] = handler


@pytest.fixture
def registered() -> tuple[FakeServer, Connection]:
    registry = ConnectionRegistry()
    conn = Connection(sid="s1", user=Principal(id="u1", email="u1@example.com", role="user"), client_addr="t")
    registry.add(conn)
    sio = FakeServer()
    table = {name: _answer for name in COMMANDS}
    Dispatcher(registry, CommandRateLimit(20, control=None), table).register(sio)  # type: ignore[arg-type]
    return sio, conn


def test_the_dispatcher_registers_every_command_and_a_catch_all(
    registered: tuple[FakeServer, Connection],
) -> None:
    sio, _ = registered
    assert set(sio.handlers) == {("/ws", name) for name in [*COMMANDS, "*"]}


@pytest.mark.parametrize("name", sorted(COMMANDS))
async def test_each_payload_is_validated_with_the_protocol_model(
    registered: tuple[FakeServer, Connection], name: str
) -> None:
    sio, _ = registered
    handler = sio.handlers[("/ws", name)]
    model = COMMANDS[name][0]
    room = {"room": "global"}
    payloads = {
        "subscribe": room,
        "unsubscribe": room,
        "presence": room,
        "debug:rooms": {},
        "auth.refresh": {"token": "t"},
    }
    valid = payloads[name]
    ack = await handler("s1", valid)
    assert ack["status"] == "success" and type(ack["got"]) is model
    refused = await handler("s1", {**valid, "unexpected": 1})
    assert refused["status"] == "error" and refused["code"] == "INVALID_PAYLOAD"


async def test_a_name_that_is_no_command_is_answered(registered: tuple[FakeServer, Connection]) -> None:
    sio, _ = registered
    ack = await sio.handlers[("/ws", "*")]("teleport", "s1", {})
    assert ack["status"] == "error" and ack["code"] == "UNKNOWN_COMMAND"
