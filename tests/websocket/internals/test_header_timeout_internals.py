"""The uvicorn internals websocket/internals/header_timeout.py relies on still behave as it expects.

`HeaderTimeoutProtocol` overrides three callbacks of uvicorn's httptools
protocol and reads `cycle`, `cycle.response_complete` and `cycle.more_body`.
A uvicorn release that renames or reorders any of them must fail here, by
name, not later as a deadline that never fires (or fires on a request being
answered): re-check the list in the module's docstring, then update these.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib import metadata
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from websocket.internals.header_timeout import HeaderTimeoutProtocol, with_header_timeout

WRITTEN_FOR = "0.54."


def test_the_pinned_uvicorn_is_the_one_the_protocol_was_written_for() -> None:
    version = metadata.version("uvicorn")
    assert version.startswith(WRITTEN_FOR), (
        f"uvicorn {version}: websocket/internals/header_timeout.py was written against {WRITTEN_FOR}x; "
        "re-check the "
        "internals its docstring lists (and this file's tests), then update WRITTEN_FOR"
    )
    # What http="auto" would pick is what the protocol extends.
    assert AutoHTTPProtocol is HttpToolsProtocol


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


async def test_the_parser_calls_the_subclass_callbacks_and_cycle_tells_the_state(served: Served) -> None:
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
