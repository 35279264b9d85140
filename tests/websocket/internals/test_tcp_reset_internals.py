"""What websocket/internals/tcp_reset.py and the slow-consumer bound rely on in uvicorn is still there.

`reset()` reads the asyncio transport from the protocol object behind
uvicorn's ASGI `send` (`send.__self__.transport`); the bound on what a slow
connection holds relies on uvicorn's WebSocket `send` waiting while the
transport is paused (so its buffer stops near the high-water mark). An
upgrade that changes either must fail here by name; the behaviour itself is
tested end to end in tests/websocket/server/test_slow_consumers.py.
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata

from uvicorn.protocols.websockets import websockets_sansio_impl, wsproto_impl

WRITTEN_FOR = "0.54."
PROTOCOLS = (websockets_sansio_impl.WebSocketsSansIOProtocol, wsproto_impl.WSProtocol)


def source(obj: object) -> str:
    return re.sub(r"\s+", " ", inspect.getsource(obj))  # type: ignore[arg-type]


def test_the_pinned_uvicorn_is_the_one_tcp_reset_was_written_for() -> None:
    version = metadata.version("uvicorn")
    assert version.startswith(WRITTEN_FOR), (
        f"uvicorn {version}: websocket/internals/tcp_reset.py was written against {WRITTEN_FOR}x; re-check "
        "`send.__self__.transport` and the backpressure in `send`, then update WRITTEN_FOR"
    )


def test_the_asgi_send_is_a_method_of_the_protocol_that_holds_the_transport() -> None:
    for protocol in PROTOCOLS:
        assert inspect.iscoroutinefunction(protocol.send), protocol
        assert "self.transport = transport" in source(protocol.connection_made), protocol
        assert "self.send)" in source(protocol.run_asgi), protocol  # the app gets the bound method


def test_websocket_sends_wait_while_the_transport_is_paused() -> None:
    for protocol in PROTOCOLS:
        send = source(protocol.send)
        assert send.find("await self.writable.wait()") < send.find("self.transport.write("), protocol
        assert "self.writable.clear()" in source(protocol.pause_writing), protocol
        assert "self.writable.set()" in source(protocol.resume_writing), protocol
        # A lost connection releases a send waiting on a paused transport.
        assert "self.writable.set()" in source(protocol.connection_lost), protocol
