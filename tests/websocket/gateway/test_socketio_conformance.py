"""Socket.IO v5 over Engine.IO v4, the rules that apply to this server, spoken by hand.

Against the `/ws` namespace with a token, over a raw WebSocket (and long-polling
where the rule is about a session that never joins): connect, refusals, an
unknown namespace, a session that never sends CONNECT, invalid packet types,
payloads and ack ids, and DISCONNECT from the client. Fast path on and off.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.servers import ServerProcess
from tests.support.tokens import token
from tests.websocket.gateway.conformance import (
    MODES,
    Endpoint,
    closed_by_server,
    decode_open,
    next_frame,
    running,
)

CONNECT_TIMEOUT = 1.0  # seconds a session may go without joining a namespace (a setting)


@pytest.fixture(scope="module", params=MODES)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ServerProcess]:
    async with running(request.param, connect_timeout=CONNECT_TIMEOUT) as process:
        yield process


@pytest.fixture
def engine(server: ServerProcess) -> Endpoint:
    return Endpoint(server, "/ws/socket.io/")


async def frame_starting(ws: Any, prefix: str) -> str:
    """The next frame that starts with `prefix` (answering the server's pings meanwhile)."""
    while True:
        frame = str(await next_frame(ws))
        if frame == "2":
            await ws.send("3")
            continue
        if frame.startswith(prefix):
            return frame
        raise AssertionError(f"expected {prefix!r}, got {frame!r}")


@contextlib.asynccontextmanager
async def connected(engine: Endpoint, user: str = "conformance", welcome: bool = False) -> AsyncIterator[Any]:
    """A raw WebSocket joined to /ws (the CONNECT answer carries its sid, and nothing else);
    the `connection.established` notice is read too unless the test wants it (`welcome`)."""
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await ws.send("40/ws," + json.dumps({"token": token(user)}))
        answer = json.loads((await frame_starting(ws, "40/ws,")).removeprefix("40/ws,"))
        assert set(answer) == {"sid"}
        if not welcome:
            await frame_starting(ws, '42/ws,["connection.established"')
            await frame_starting(ws, '42/ws,["connection_established"')  # its alias, for old listeners
        yield ws


def connect_error(frame: str, namespace: str) -> dict[str, Any]:
    prefix = f"44{namespace}," if namespace != "/" else "44"
    assert frame.startswith(prefix), frame
    value: dict[str, Any] = json.loads(frame.removeprefix(prefix))
    return value


# -- CONNECT ---------------------------------------------------------------------------------


async def test_connect_with_a_token_is_accepted_then_told_who_it_is(engine: Endpoint) -> None:
    async with connected(engine, "who-am-i", welcome=True) as ws:
        event = json.loads(
            (await frame_starting(ws, '42/ws,["connection.established"')).removeprefix("42/ws,")
        )
        assert event[1]["data"]["user_id"] == "who-am-i"


@pytest.mark.parametrize(("auth", "code"), [("", "AUTH_REQUIRED"), ('{"token":"not-a-jwt"}', "AUTH_INVALID")])
async def test_connect_without_a_valid_token_gets_connect_error(
    engine: Endpoint, auth: str, code: str
) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await ws.send(f"40/ws,{auth}")
        error = connect_error(await frame_starting(ws, "44/ws,"), "/ws")
        assert error["data"]["code"] == code and error["message"]
        # The session stays for another try (up to CONNECT_FAILURES_PER_SESSION).
        await ws.send("40/ws," + json.dumps({"token": token("second-try")}))
        await frame_starting(ws, "40/ws,")


@pytest.mark.parametrize("namespace", ["/random", "/"])
async def test_connect_to_an_unknown_namespace_gets_connect_error(engine: Endpoint, namespace: str) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await ws.send("40" if namespace == "/" else f"40{namespace},")
        error = connect_error(str(await next_frame(ws)), namespace)
        assert error["data"]["code"] == "INVALID_NAMESPACE"


async def test_a_session_that_never_connects_is_closed(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await closed_by_server(ws, within=CONNECT_TIMEOUT + 3)
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        poll = await http.get("", params=engine.polling(sid))  # held until the server closes it
        assert poll.text.split("\x1e")[-1] == "1", poll.text  # Engine.IO CLOSE
        after = await http.get("", params=engine.polling(sid))
        assert after.status_code == 400


# -- EVENT and ACK ---------------------------------------------------------------------------


async def test_an_event_with_an_ack_id_is_acknowledged_with_that_id(engine: Endpoint) -> None:
    async with connected(engine) as ws:
        await ws.send('42/ws,17["debug:rooms",{}]')
        ack = json.loads((await frame_starting(ws, "43/ws,17")).removeprefix("43/ws,17"))
        assert ack[0]["status"] == "success" and "global" in ack[0]["rooms"]
        await ws.send('42/ws,18["no-such-command",{}]')
        ack = json.loads((await frame_starting(ws, "43/ws,18")).removeprefix("43/ws,18"))
        assert ack[0]["code"] == "UNKNOWN_COMMAND"


async def test_an_event_without_ack_id_gets_no_answer_and_the_session_goes_on(engine: Endpoint) -> None:
    async with connected(engine) as ws:
        await ws.send('42/ws,["debug:rooms",{}]')
        await ws.send('42/ws,5["debug:rooms",{}]')
        # The first answer on the wire is the acked one's: the other got none.
        await frame_starting(ws, "43/ws,5")


@pytest.mark.parametrize("event", ["[42,{}]", "[]", '{"name":"debug:rooms"}'])
async def test_an_event_that_is_not_name_and_args_is_refused_through_its_ack(
    engine: Endpoint, event: str
) -> None:
    async with connected(engine) as ws:
        await ws.send(f"42/ws,7{event}")
        ack = json.loads((await frame_starting(ws, "43/ws,7")).removeprefix("43/ws,7"))
        assert ack[0]["code"] == "INVALID_PAYLOAD"
        await ws.send('42/ws,8["debug:rooms",{}]')
        await frame_starting(ws, "43/ws,8")  # the session goes on


async def test_an_ack_for_an_id_the_server_never_sent_is_ignored(engine: Endpoint) -> None:
    async with connected(engine) as ws:
        await ws.send('43/ws,99["whatever"]')
        await ws.send('42/ws,6["debug:rooms",{}]')
        await frame_starting(ws, "43/ws,6")  # still served


@pytest.mark.parametrize(
    "frame",
    [
        "47/ws,[]",  # no such Socket.IO packet type
        "4x/ws,[]",
        '42/ws,1["debug:rooms"',  # not JSON
        '451-/ws,1["subscribe",{"_placeholder":true,"num":0}]',  # binary: this API is JSON only
        "4",  # an empty Socket.IO packet
    ],
)
async def test_a_packet_the_protocol_does_not_allow_closes_the_session(engine: Endpoint, frame: str) -> None:
    async with connected(engine) as ws:
        await ws.send(frame)
        await closed_by_server(ws)


# -- DISCONNECT ------------------------------------------------------------------------------


async def test_disconnect_from_the_only_namespace_ends_the_session(engine: Endpoint) -> None:
    async with connected(engine) as ws:
        await ws.send("41/ws,")
        await closed_by_server(ws)
