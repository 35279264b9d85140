"""Property-based: any JSON, to any command, gets a structured answer and harms nothing.

Hypothesis drives every client command (and unknown or reserved names) with
arbitrary JSON values, types and sizes over one real WebSocket connection to
a real server process. Every call must be answered with `{status, ...}`
(`{status: "error", code, message, retryable}` when refused), the connection
must stay usable, and the server's log must not hold a single traceback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.support.figures import record
from tests.support.servers import ServerProcess
from tests.support.tokens import token
from websocket.protocol.errors import ErrorCode
from websocket.protocol.paths import ENGINEIO_PATH

pytestmark = pytest.mark.protocol  # run again with WS_FAST_PATH=false (Makefile)

COMMANDS = ["subscribe", "unsubscribe", "debug:rooms", "auth.refresh"]
RESERVED = ["connect", "disconnect", "connect_error", "message", "*", "", " subscribe", "SUBSCRIBE"]
CODES = {code.value for code in ErrorCode}
EXAMPLES = 200  # per test; keeps the module to a few seconds

TOKEN_CHARS = string.ascii_letters + string.digits + "-_."
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.text(min_size=150, max_size=20_000)  # long strings: past every length check
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=30,
)
# Payloads shaped like the real ones, with arbitrary values where it matters.
plausible = st.one_of(
    st.fixed_dictionaries({"room": json_value}),
    st.fixed_dictionaries({"token": json_value}),
    st.fixed_dictionaries({"room": st.sampled_from(["global", "project:", "user:", "agent:x", "workflow:"])
                           .flatmap(lambda p: st.text(max_size=60).map(lambda t: p + t))}),
    st.fixed_dictionaries({"token": st.text(alphabet=TOKEN_CHARS, max_size=400)}),
    st.dictionaries(st.text(max_size=10), json_value, max_size=4),
)  # fmt: skip
arguments = st.lists(plausible | json_value, max_size=3)


class SyncSocket:
    """A raw Socket.IO connection, blocking, so Hypothesis can drive it example by example."""

    def __init__(self, ws: ClientConnection, user: str) -> None:
        self.ws = ws
        assert str(self.ws.recv(5)).startswith("0{")
        self.ws.send("40/ws," + json.dumps({"token": token(user)}))
        assert str(self.recv()).startswith("40/ws,")
        self.ids = itertools.count(1)
        self.answers: dict[str, int] = {}

    def recv(self) -> str:
        while True:
            frame = str(self.ws.recv(10))
            if frame == "2":
                self.ws.send("3")
                continue
            return frame

    def call(self, event: str, args: list[Any], count: bool = True) -> Any:
        ack_id = next(self.ids)
        self.ws.send(f"42/ws,{ack_id}" + json.dumps([event, *args]))
        prefix = f"43/ws,{ack_id}"
        while True:
            frame = self.recv()
            if frame.startswith(prefix):
                ack = json.loads(frame[len(prefix) :])
                if count:
                    status = ack[0].get("code", "success") if ack and isinstance(ack[0], dict) else "?"
                    self.answers[status] = self.answers.get(status, 0) + 1
                return ack


@pytest.fixture(scope="module")
def target() -> Iterator[ServerProcess]:
    server = ServerProcess(
        command_rate=100_000, command_burst=100_000, max_subscriptions_per_connection=10_000
    )
    asyncio.run(server.start())
    yield server
    asyncio.run(server.stop())
    bad = server.trouble()
    assert bad == [], "\n".join(bad[:5])
    assert "command_failed" not in server.log()


@pytest.fixture(scope="module")
def sock(target: ServerProcess) -> Iterator[SyncSocket]:
    url = target.url.replace("http://", "ws://") + f"/{ENGINEIO_PATH}/?EIO=4&transport=websocket"
    with connect(url, max_size=None) as ws:
        socket = SyncSocket(ws, "prop-user")
        yield socket
    answers = ", ".join(f"{code} {count}" for code, count in sorted(socket.answers.items()))
    record(
        "bad input, properties",
        f"{sum(socket.answers.values())} calls on one connection, all answered: {answers}",
    )


def check_answer(ack: Any) -> None:
    assert isinstance(ack, list) and len(ack) == 1, ack
    answer = ack[0]
    assert answer["status"] in ("success", "error"), answer
    if answer["status"] == "error":
        assert answer["code"] in CODES, answer
        assert isinstance(answer["message"], str) and answer["message"], answer
        assert isinstance(answer["retryable"], bool), answer


def still_usable(sock: SyncSocket) -> None:
    answer = sock.call("debug:rooms", [{}], count=False)[0]
    assert answer["status"] == "success" and "user:prop-user" in answer["rooms"], answer


PROPS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPS
@given(command=st.sampled_from(COMMANDS), args=arguments)
def test_every_command_answers_any_json(sock: SyncSocket, command: str, args: list[Any]) -> None:
    check_answer(sock.call(command, args))
    still_usable(sock)


@PROPS
@given(name=st.sampled_from(RESERVED) | st.text(max_size=300), args=arguments)
def test_unknown_and_reserved_names_are_answered(sock: SyncSocket, name: str, args: list[Any]) -> None:
    ack = sock.call(name, args)
    check_answer(ack)
    if name not in COMMANDS:
        assert ack[0]["code"] == "UNKNOWN_COMMAND", (name, ack)
    still_usable(sock)


@PROPS
@given(event=json_value.filter(lambda v: not isinstance(v, str)), args=arguments)
def test_non_string_event_names_are_answered(sock: SyncSocket, event: Any, args: list[Any]) -> None:
    ack = sock.call(event, args)
    check_answer(ack)
    assert ack[0]["code"] == "INVALID_PAYLOAD"
    still_usable(sock)
