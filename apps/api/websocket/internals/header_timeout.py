"""uvicorn's httptools protocol with a deadline for request headers.

uvicorn 0.54 times a connection only between requests: its keep-alive timer
is armed when a response completes and disarmed by any byte received
(httptools and h11 protocols alike; neither has a timer of its own from
`connection_made` to the end of the headers). So a client that opens a
connection and sends nothing, or sends a request line and headers a byte at
a time, or keeps trickling a request body the application answered without
reading, holds the connection as long as it likes (slowloris).
`HeaderTimeoutProtocol` arms one loop timer:

* when the connection is made (for its first request), and for a later request
  on a keep-alive connection when a read leaves it incomplete; disarmed when
  its headers are complete: from then on the application owns the request, and
  `body_timeout` watches its body;
* when a response completes while the request body is still arriving, or the
  next request has already begun: what is left must arrive within the same
  deadline.

On expiry a connection with part of a request is answered 408 and closed (one
audit line); an idle one that never sent a byte (a browser's preconnect) is
closed silently. Idle keep-alive connections stay uvicorn's business.

After a WebSocket upgrade the protocol lets go of its parser (a reference
cycle that would otherwise leave it, and the connection's objects it reaches,
to the cyclic garbage collector; see ws_protocol.py).

The uvicorn internals it relies on are listed, each with the release it
was verified on and the behaviour relied on, in `TABLE` of
tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from websocket import audit
from websocket.protocol.errors import ErrorCode

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 15\r\nconnection: close\r\n\r\nRequest Timeout"
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """See the module docstring; `header_timeout` is set by `with_header_timeout()`."""

    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None
    _request_begun = False  # bytes of a request whose headers are not complete yet

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Armed only for a request still incomplete once this data is parsed: a whole
        # request in one read, the usual case, costs no timer.
        waiting = self._request_begun and self._header_timer is None and not self._busy()
        if waiting and not self.transport.is_closing():
            self._arm()

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol has the connection now. The httptools parser holds this
        # protocol (its callbacks) and this protocol the parser: without this cycle it is
        # freed at once, with it it waits for a garbage collection, keeping the WebSocket
        # protocol (through the transport) with it.
        self.parser = None  # type: ignore[assignment]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True

    def on_headers_complete(self) -> None:
        self._disarm()
        self._request_begun = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or self._busy():
            return
        if self._request_begun or (self.cycle is not None and self.cycle.more_body):
            self._arm()

    def _busy(self) -> bool:
        """A request whose headers are complete is being answered."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = asyncio.get_running_loop().call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._busy():
            return
        if self._request_begun or self.cycle is not None:
            audit.denied(
                "request_timeout",
                ErrorCode.REQUEST_TIMEOUT,
                client_addr=self.client[0] if self.client else "unknown",
                phase="headers" if self._request_begun else "body",
                limit_s=self.header_timeout,
            )
            if self._request_begun:
                self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn's `http` option, with this deadline for request headers."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
