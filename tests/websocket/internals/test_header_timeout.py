"""HeaderTimeoutProtocol's deadline, armed and disarmed as a request's headers arrive.

What it relies on in uvicorn (the parser callbacks, `cycle`, `response_complete`,
`more_body`) is pinned in test_library_internals.py; this checks the protocol's
own decisions over a real socket. End to end (408, audit lines) it is tested
in tests/front/test_http_front.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from websocket.internals.header_timeout import HeaderTimeoutProtocol, with_header_timeout


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers at once, without reading the body."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


class Served:
    def __init__(self) -> None:
        self.protocols: list[HeaderTimeoutProtocol] = []
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    @property
    def protocol(self) -> HeaderTimeoutProtocol:
        return self.protocols[0]

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        await asyncio.sleep(0.05)  # let the server side read it


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    config = uvicorn.Config(app, http=with_header_timeout(60), lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    result = Served()

    def factory() -> HeaderTimeoutProtocol:
        protocol = config.http_protocol_class(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
        result.protocols.append(protocol)  # type: ignore[arg-type]
        return protocol  # type: ignore[return-value]

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    result.reader, result.writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)
    yield result
    result.writer.close()
    server.close()
    await server.wait_closed()


def armed(protocol: HeaderTimeoutProtocol) -> bool:
    return protocol._header_timer is not None


async def test_armed_until_the_headers_are_complete_and_for_an_unread_body(served: Served) -> None:
    assert armed(served.protocol)  # connection_made
    assert served.protocol.cycle is None  # before the first request

    await served.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # on_message_begin, not yet on_headers_complete
    assert served.protocol._request_begun and armed(served.protocol)
    await served.send(b"\r\n")  # on_headers_complete
    assert not served.protocol._request_begun
    assert (await served.reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.05)
    cycle = served.protocol.cycle
    assert cycle is not None and cycle.response_complete and not cycle.more_body
    assert not armed(served.protocol)  # an idle keep-alive connection is uvicorn's timer's business

    await served.send(b"GET / HTTP/1.1\r\nHo")  # the next request, incomplete after this read
    assert armed(served.protocol)
    await served.send(b"st: x\r\n\r\n")
    assert (await served.reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
    assert not armed(served.protocol)

    # Answered without reading the body: on_response_complete sees more_body still True.
    await served.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    assert (await served.reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.05)
    cycle = served.protocol.cycle
    assert cycle is not None and cycle.response_complete and cycle.more_body
    assert armed(served.protocol)  # the rest of that body is on the clock
