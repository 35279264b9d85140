"""Engine.IO v4 as the protocol says: handshake, heartbeat, close, upgrade, payloads.

Raw HTTP and WebSocket peers against `python main.py` started as users start
it, with the intervals the socket.io-protocol test-suite uses
(PING_INTERVAL=0.3, PING_TIMEOUT=0.2), on both Engine.IO paths, with the fast
path on and off (WS_FAST_PATH=false: python-engineio's own sockets). Every
server's log is checked afterwards: none of these client mistakes may be
logged as an error (tests/support/logcheck.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from tests.support.servers import ServerProcess
from tests.websocket.gateway.conformance import (
    MODES,
    PATHS,
    PING_INTERVAL,
    PING_TIMEOUT,
    Endpoint,
    answers,
    closed_by_server,
    decode_open,
    next_frame,
    packets,
    running,
)

OPEN_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


@pytest.fixture(scope="module", params=MODES)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[ServerProcess]:
    async with running(request.param, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT) as process:
        yield process


@pytest.fixture(params=PATHS)
def engine(server: ServerProcess, request: pytest.FixtureRequest) -> Endpoint:
    return Endpoint(server, request.param)


@pytest.fixture(scope="module", params=MODES)
async def calm_server(request: pytest.FixtureRequest) -> AsyncIterator[ServerProcess]:
    """Default pings (25 s): a poll stays pending until the test ends it, not until the next ping."""
    async with running(request.param) as process:
        yield process


@pytest.fixture(params=PATHS)
def calm(calm_server: ServerProcess, request: pytest.FixtureRequest) -> Endpoint:
    return Endpoint(calm_server, request.param)


async def pending_poll(http: httpx.AsyncClient, engine: Endpoint, sid: str) -> asyncio.Task[httpx.Response]:
    """A GET the server holds (nothing to send). A short pause lets the request reach the server:
    if it did not, the test fails (the poll answers 400), it cannot pass wrongly."""
    poll = asyncio.create_task(http.get("", params=engine.polling(sid)))
    await asyncio.sleep(0.1)
    assert not poll.done(), poll.done() and (poll.result().status_code, poll.result().text)
    return poll


def refused(response: httpx.Response) -> None:
    """The protocol's 400, with this server's structured body."""
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["code"] in ("BAD_REQUEST", "BAD_PACKET"), response.text


# -- handshake -----------------------------------------------------------------------------


async def test_polling_handshake_opens_a_session(engine: Endpoint) -> None:
    async with engine.http() as http:
        response = await http.get("", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    value = decode_open(response.text)
    assert set(value) == OPEN_KEYS
    assert isinstance(value["sid"], str) and value["sid"]
    assert value["upgrades"] == ["websocket"]
    # Whole milliseconds of the configured seconds (python-engineio alone announces int(0.3) * 1000 == 0).
    assert value["pingInterval"] == 300 and value["pingTimeout"] == 200
    assert value["maxPayload"] == 1_000_000


async def test_websocket_handshake_opens_a_session(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        value = decode_open(str(await next_frame(ws)))
    assert set(value) == OPEN_KEYS
    assert value["upgrades"] == []
    assert (value["pingInterval"], value["pingTimeout"], value["maxPayload"]) == (300, 200, 1_000_000)


@pytest.mark.parametrize(
    "query", ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"]
)
async def test_a_handshake_in_another_protocol_version_is_refused(engine: Endpoint, query: str) -> None:
    async with engine.http() as http:
        refused(await http.get(f"?{query}"))
    with pytest.raises(websockets.InvalidStatus) as failure:
        async with engine.websocket(query.replace("polling", "websocket")):
            pass
    assert failure.value.response.status_code == 403  # ASGI's answer to a close before accept


@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "EIO=4&transport=websocket"])
async def test_a_handshake_with_a_bad_transport_is_refused(engine: Endpoint, query: str) -> None:
    """No transport at all opens nothing (python-engineio alone would open a polling session)."""
    async with engine.http() as http:
        refused(await http.get(f"?{query}"))
    if "websocket" not in query:
        with pytest.raises(websockets.InvalidStatus):
            async with engine.websocket(query):
                pass


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a_handshake_with_another_method_is_refused(engine: Endpoint, method: str) -> None:
    async with engine.http() as http:
        refused(await http.request(method, "", params={"EIO": "4", "transport": "polling"}))


async def test_an_unknown_session_is_refused(engine: Endpoint) -> None:
    async with engine.http() as http:
        refused(await http.get("", params=engine.polling("no-such-session")))
        refused(await http.post("", params=engine.polling("no-such-session"), content=b"3"))
    with pytest.raises(websockets.InvalidStatus):
        async with engine.websocket("EIO=4&transport=websocket&sid=no-such-session"):
            pass


# -- heartbeat -----------------------------------------------------------------------------


async def test_polling_heartbeat_keeps_a_session_that_answers(engine: Endpoint) -> None:
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        for _ in range(3):  # three cycles: well past PING_INTERVAL + PING_TIMEOUT
            poll = await http.get("", params=engine.polling(sid))
            assert poll.status_code == 200 and packets(poll.text) == ["2"], poll.text
            answer = await http.post("", params=engine.polling(sid), content=b"3")
            assert answer.status_code == 200 and answer.text == "ok"


async def test_polling_session_closes_upon_ping_timeout(engine: Endpoint) -> None:
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        poll = await http.get("", params=engine.polling(sid))
        assert packets(poll.text) == ["2"]
        await asyncio.sleep(PING_TIMEOUT + 0.3)  # the pong never comes: time is what is under test
        refused(await http.get("", params=engine.polling(sid)))


async def test_websocket_heartbeat_keeps_a_session_that_answers(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        for _ in range(3):
            assert await next_frame(ws) == "2"
            await ws.send("3")
        await answers(ws)


async def test_websocket_session_closes_upon_ping_timeout(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        assert await next_frame(ws) == "2"  # and no pong
        await closed_by_server(ws, within=PING_INTERVAL + PING_TIMEOUT + 2)


# -- payloads ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"abc", b"6", b"3\x1e6", b"\x1e", b"2"])
async def test_a_payload_a_client_may_not_send_closes_the_session(engine: Endpoint, body: bytes) -> None:
    """Not Engine.IO at all, or packets only the server sends (NOOP) or v4 clients never send over
    polling (PING): 400 at once, session closed, never a request held open."""
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        refused(await http.post("", params=engine.polling(sid), content=body))
        refused(await http.get("", params=engine.polling(sid)))


async def test_a_malformed_websocket_frame_closes_the_session(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await ws.send("abc")
        await closed_by_server(ws)


async def test_a_payload_of_several_packets_is_read_whole(engine: Endpoint) -> None:
    """Packets of one POST are separated by \\x1e; each is read (a pong, then a Socket.IO CONNECT)."""
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        assert packets((await http.get("", params=engine.polling(sid))).text) == ["2"]
        answer = await http.post("", params=engine.polling(sid), content=b"3\x1e40/nope,")
        assert answer.status_code == 200 and answer.text == "ok"
        # The second packet was read: its answer (the namespace is refused) waits in the next poll.
        assert packets((await http.get("", params=engine.polling(sid))).text)[0].startswith("44/nope,")


# -- close ---------------------------------------------------------------------------------


async def test_polling_close_answers_the_pending_poll_with_a_noop(calm: Endpoint) -> None:
    engine = calm
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        pending = await pending_poll(http, engine, sid)
        close = await http.post("", params=engine.polling(sid), content=b"1")
        assert close.status_code == 200
        answer = await pending
        assert answer.status_code == 200 and packets(answer.text)[-1] == "6", answer.text
        refused(await http.get("", params=engine.polling(sid)))
        # Closed is closed: a second POST is a 400, not a server error.
        refused(await http.post("", params=engine.polling(sid), content=b"1"))


async def test_websocket_close_from_the_client_ends_the_session(engine: Endpoint) -> None:
    async with engine.websocket() as ws:
        decode_open(str(await next_frame(ws)))
        await ws.send("1")
        await closed_by_server(ws)


# -- upgrade -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def upgraded(engine: Endpoint, http: httpx.AsyncClient, sid: str) -> AsyncIterator[Any]:
    """The protocol's upgrade: a poll is pending when the WebSocket opens; the probe is answered,
    that poll ends with a no-op (as does any poll during the upgrade); then UPGRADE."""
    pending = await pending_poll(http, engine, sid)
    async with engine.websocket(f"EIO=4&transport=websocket&sid={sid}") as ws:
        await ws.send("2probe")
        assert await next_frame(ws) == "3probe"
        answer = await pending
        assert answer.status_code == 200 and packets(answer.text)[-1] == "6", answer.text
        during = await http.get("", params=engine.polling(sid))
        assert during.status_code == 200 and packets(during.text) == ["6"], during.text
        await ws.send("5")
        yield ws


async def test_upgrade_from_polling_to_websocket(calm: Endpoint) -> None:
    engine = calm
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        async with upgraded(engine, http, sid) as ws:
            await answers(ws)  # the session now answers over the WebSocket


async def test_http_requests_after_the_upgrade_are_refused(calm: Endpoint) -> None:
    engine = calm
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        async with upgraded(engine, http, sid) as ws:
            refused(await http.get("", params=engine.polling(sid)))
            refused(await http.post("", params=engine.polling(sid), content=b"3"))
            await answers(ws)  # the session itself goes on


async def test_a_second_websocket_after_the_upgrade_opens_then_is_closed(calm: Endpoint) -> None:
    engine = calm
    async with engine.http() as http:
        sid = await engine.open_polling(http)
        async with upgraded(engine, http, sid) as ws:
            async with engine.websocket(f"EIO=4&transport=websocket&sid={sid}") as second:
                assert await closed_by_server(second) == 1008
            await answers(ws)  # the first one is untouched
