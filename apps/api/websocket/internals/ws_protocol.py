"""uvicorn's `websockets-sansio` WebSocket protocol, holding less and leaving no cycles behind.

uvicorn takes the WebSocket protocol class as its `ws` option (a public
extension point); `LeanWebSocketProtocol` is given there by serving.py
(`WS_LEAN_PROTOCOL`). Two changes to what uvicorn 0.54's
`WebSocketsSansIOProtocol` keeps per connection:

* the websockets library's per-connection lines ("connection open", "connection
  closed") go to the logger `uvicorn.websockets` (logging_setup.py keeps it at
  WARNING), not `uvicorn.error`: our own `websocket_connect` line says more,
  and a record filtered after it is made still costs its making;
* once the handshake is answered, the handshake's `Request` and `Response`
  (headers included) are dropped: uvicorn reads them only to answer it;
* it keeps the bits of its `FrameLane` (frame_lane.py), through which a
  broadcast's ready frame is written without `send`: paused while the
  transport is (pause_writing/resume_writing), closed for good once a
  close is sent or the connection is lost;
* once the connection is gone and the application has returned, the
  reference cycles that would otherwise keep every object of the connection
  until a cyclic garbage collection (protocol <-> transport, the scope <->
  the ASGI `send` that tcp_reset.py keeps in it, the websockets parser
  generator <-> its protocol) are broken, so reference counting frees them
  at once. Measured with the server's own collector: about 50 objects per
  closed connection were left to the collector; a full collection over them
  is what stalled the event loop after a mass disconnect, and only a heap
  with nothing cyclic in it can be frozen (gc_setup.py) without leaking.

The uvicorn and websockets internals it relies on are listed, each with the
release it was verified on and the behaviour relied on, in `TABLE` of
tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from websocket.internals.frame_lane import FrameLane

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent

FRAMES_LOGGER = "uvicorn.websockets"


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    _app_returned = False
    frame_lane: FrameLane | None = None  # set by ws_frames.frame_lane once a writer asks for it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.logger = logging.getLogger(FRAMES_LOGGER)

    def start_keepalive(self) -> None:
        # Called once, right after the handshake's 101 response is written.
        super().start_keepalive()
        self.request = None  # type: ignore[assignment]
        self.response = None  # type: ignore[assignment]

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.frame_lane is not None:
            self.frame_lane.blocked |= FrameLane.PAUSED

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.frame_lane is not None:
            self.frame_lane.blocked &= ~FrameLane.PAUSED

    async def send(self, message: ASGISendEvent) -> None:
        # Not per delivery: a broadcast's frames go through the lane. A close sent
        # here (the writer's, or anyone's) closes the lane before its frame is written.
        if self.frame_lane is not None and message["type"] == "websocket.close":
            self.frame_lane.blocked |= FrameLane.CLOSED
        await super().send(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.frame_lane is not None:
            self.frame_lane.blocked |= FrameLane.CLOSED
        super().connection_lost(exc)
        if self._app_returned:
            self._release()

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        super().on_task_complete(task)
        self._app_returned = True
        if self.disconnected:
            self._release()

    def _release(self) -> None:
        """Nothing reaches this connection any more: break its cycles (see the module docstring)."""
        parser = getattr(self.conn, "parser", None)
        if parser is not None:
            parser.close()  # the generator's frame holds the websockets protocol
        self.scope = None  # type: ignore[assignment]
        self.transport = None  # type: ignore[assignment]
        lane, self.frame_lane = self.frame_lane, None
        if lane is not None:  # lane -> transport -> this protocol
            lane.transport = None
