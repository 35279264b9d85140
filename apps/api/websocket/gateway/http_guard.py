"""The Engine.IO endpoint's front door: what is refused before Engine.IO reads it.

First, every request: a browser `Origin` that may not connect is refused
(HTTP 400, or 403 for a WebSocket; `ORIGIN_NOT_ALLOWED` in the audit log), and
a request the Engine.IO v4 protocol does not allow is answered as the
protocol says (protocol_rules.py: HTTP 400 with `{code: "BAD_REQUEST",
message, retryable}`, `BAD_REQUEST` in the audit log), so python-engineio
never answers them its own way nor logs the client's mistake as an error.

Engine.IO answers a bad polling POST by closing the session and then
*waiting* until the client collects the close, which a client that is not
polling never does, so the request hangs; a POST it cannot decode at all is
logged with a traceback and answered 200. This wrapper refuses both itself:

* a POST over `MAX_HTTP_BUFFER_SIZE` bytes: 413, `MESSAGE_TOO_LARGE`;
* a POST that is not a valid Engine.IO payload of packets a client may send:
  400, `BAD_PACKET`;

and closes the session without waiting.

Over WebSocket, Engine.IO decodes each frame outside any error handling: a
frame that is not an Engine.IO packet kills its handler with a traceback and
leaves the session registered until the ping timeout (85 s by default). This
wrapper checks every text frame on its way in and ends the connection on the
first bad one, as if the client had closed it, so Engine.IO cleans up at once.
Oversized WebSocket messages are refused by uvicorn (close code 1009,
`ws_max_size`); this records them.

A handshake (a GET or WebSocket request without a `sid`) first takes a
pending-session slot for its address (websocket/gateway/admission.py). Over the
address's cap, or with the instance's pool full, it is refused here, before
Engine.IO allocates a session or logs a word: a polling GET with HTTP 429
(`TOO_MANY_HANDSHAKES`) or 503 (`SERVER_FULL`), `Retry-After` and a JSON
`{code, message, retryable}` body; a WebSocket upgrade is refused (HTTP 403).
Either way the audit line says which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from websocket import audit
from websocket.gateway.admission import Admission
from websocket.gateway.cors import OriginPolicy
from websocket.gateway.protocol_rules import SessionState, Verdict, check, query_of
from websocket.internals.packets import valid_client_frame, valid_client_payload
from websocket.protocol import jsonlib
from websocket.protocol.errors import ErrorCode, WebSocketError
from websocket.protocol.paths import is_engineio_path

UserLookup = Callable[[str], str | None]
SessionStateOf = Callable[[str], str]  # eio_sid -> a SessionState value
CloseSession = Callable[[str, str], Awaitable[None]]


class EngineIOGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        user_of: UserLookup,
        close: CloseSession,
        admission: Admission | None = None,
        session_state: SessionStateOf | None = None,
        origin_allowed: OriginPolicy | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.user_of = user_of
        self.close = close
        self.admission = admission
        self.session_state = session_state
        self.origin_allowed = origin_allowed

    def _refuse(self, scope: Scope, eio_sid: str, event: str, code: ErrorCode, **detail: Any) -> None:
        audit.denied(
            event, code, client_addr=audit.client_of(scope),
            user_id=self.user_of(eio_sid) if eio_sid else None, **detail,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not is_engineio_path(scope["path"]):
            await self.app(scope, receive, send)  # python-engineio answers any other path 404
            return
        eio_sid = query_of(scope).get("sid", [""])[0]
        if not self._origin_allowed(scope):
            await self._refuse_request(scope, receive, send, eio_sid, None)
            return
        state = SessionState(self.session_state(eio_sid)) if eio_sid and self.session_state else None
        verdict = check(scope, state)
        if verdict is not None:
            await self._refuse_request(scope, receive, send, eio_sid, verdict)
            return
        if scope["type"] == "http" and scope.get("method") == "POST" and eio_sid:
            await self._post(scope, receive, send, eio_sid)
            return
        if eio_sid or self.admission is None or scope.get("method", "GET") != "GET":
            await self._pass(scope, receive, send, eio_sid)
            return
        refusal = self.admission.reserve(scope)
        if refusal is not None:
            await self._refuse_handshake(scope, receive, send, refusal)
            return
        try:
            await self._pass(scope, receive, send, eio_sid)
        finally:
            self.admission.unclaimed(scope)

    def _origin_allowed(self, scope: Scope) -> bool:
        if self.origin_allowed is None:
            return True
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin")
        if origin is None:
            return True  # not a browser: judged by its token alone
        host = headers.get(b"host")
        return self.origin_allowed(
            origin.decode("latin-1"), host.decode("latin-1") if host else None, scope.get("scheme", "http")
        )

    async def _refuse_request(
        self, scope: Scope, receive: Receive, send: Send, eio_sid: str, verdict: Verdict | None
    ) -> None:
        """Refuse before python-engineio reads it: a foreign origin (no verdict) or a protocol breach."""
        if verdict is None:
            origin = dict(scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
            self._refuse(scope, "", "handshake_refused", ErrorCode.ORIGIN_NOT_ALLOWED, origin=origin[:200])
            error = WebSocketError("This origin may not connect", ErrorCode.ORIGIN_NOT_ALLOWED)
        else:
            self._refuse(
                scope, eio_sid, "protocol_error", ErrorCode.BAD_REQUEST, transport=scope["type"],
                reason=verdict.reason,
            )  # fmt: skip
            error = WebSocketError(verdict.reason, ErrorCode.BAD_REQUEST)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect (or the client already left)
            if verdict is not None and verdict.close_after_accept:
                # The protocol's answer to a second WebSocket on an upgraded session:
                # it opens, then is closed; the session keeps its own WebSocket.
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1008})
            return
        await _respond(send, 400, error)

    async def _refuse_handshake(
        self, scope: Scope, receive: Receive, send: Send, error: WebSocketError
    ) -> None:
        assert self.admission is not None
        per_address = error.code is ErrorCode.TOO_MANY_HANDSHAKES
        limit = self.admission.pending_per_address if per_address else self.admission.max_sessions
        self._refuse(scope, "", "handshake_refused", error.code, transport=scope["type"], limit=limit)
        if scope["type"] == "websocket":
            # A refused upgrade (HTTP 403). uvicorn 0.54's default WebSocket
            # protocol logs an error after an ASGI `websocket.http.response`.
            await receive()  # websocket.connect (or the client already left)
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(self.admission.retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429 if per_address else 503, "headers": headers})
        await send({"type": "http.response.body", "body": jsonlib.dumps(error.to_data()).encode()})

    async def _pass(self, scope: Scope, receive: Receive, send: Send, eio_sid: str) -> None:
        if scope["type"] == "websocket":
            inner = receive

            async def receive() -> Message:
                message = await inner()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    if text is not None and not valid_client_frame(text):
                        self._refuse(
                            scope, eio_sid, "protocol_error", ErrorCode.BAD_PACKET, detail="bad frame"
                        )
                        return {"type": "websocket.disconnect", "code": 1002}
                elif message["type"] == "websocket.disconnect" and message.get("code") == 1009:
                    self._refuse(
                        scope, eio_sid, "message_refused", ErrorCode.MESSAGE_TOO_LARGE, limit=self.max_bytes
                    )
                return message

        await self.app(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send, eio_sid: str) -> None:
        length = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.max_bytes:
            self._refuse(
                scope, eio_sid, "message_refused", ErrorCode.MESSAGE_TOO_LARGE, size=int(length),
                limit=self.max_bytes,
            )  # fmt: skip
            await self.close(eio_sid, "message too large")
            await _respond(send, 413, too_large(self.max_bytes))
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:  # a body longer than its Content-Length said
                await self.close(eio_sid, "message too large")
                await _respond(send, 413, too_large(self.max_bytes))
                return
            if not message.get("more_body"):
                break
        if not valid_client_payload(body):
            self._refuse(
                scope, eio_sid, "protocol_error", ErrorCode.BAD_PACKET, detail="malformed polling payload"
            )
            await self.close(eio_sid, "bad packet")
            await _respond(send, 400, WebSocketError(MALFORMED, ErrorCode.BAD_PACKET))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def answer(message: Message) -> None:
            # The protocol's (and Node's) acknowledgement of a POST is "ok"; python-engineio says "OK".
            if message["type"] == "http.response.body" and message.get("body") == b"OK":
                message = {**message, "body": b"ok"}
            await send(message)

        await self.app(scope, replay, answer)


MALFORMED = "Not an Engine.IO payload of packets a client may send (MESSAGE, PONG, CLOSE)"


def too_large(limit: int) -> WebSocketError:
    return WebSocketError(f"A message may be at most {limit} bytes", ErrorCode.MESSAGE_TOO_LARGE)


async def _respond(send: Send, status: int, error: WebSocketError) -> None:
    """The structured answer every refusal here gives: `{code, message, retryable}`."""
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": jsonlib.dumps(error.to_data()).encode()})
