"""What a request to the Engine.IO endpoint must be (Engine.IO v4), decided before python-engineio reads it.

python-engineio answers some protocol mistakes differently from the
protocol (a handshake without `transport` opens a polling session; a PUT gets
405; a second POST to a session it is closing raises and answers 500; a
second WebSocket on a session already upgraded gets 403 before the upgrade)
and logs most of them at error level although they are the client's. So the
gateway decides first, from the request alone and the state of the session
it names:

| request | answer |
|---|---|
| a method other than GET, POST or OPTIONS (CORS preflight); a POST without `sid` | 400 |
| `transport` missing or other than `polling` / `websocket`, or not the request's kind | 400 |
| a handshake (no `sid`) whose `EIO` is not `4`; a JSONP handshake (`j`) | 400 |
| a `sid` this instance does not hold, or a session that is closed or not yet open | 400 |
| an HTTP request (poll or POST) for a session upgraded to WebSocket | 400 |
| a WebSocket for a session already upgraded | accepted, then closed (1008) |

A WebSocket refused before it is accepted gets HTTP 403 (ASGI's answer to a
close before accept). Everything else goes on to python-engineio.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qs

from starlette.types import Scope

PROTOCOL_VERSION = "4"
TRANSPORTS = frozenset({"polling", "websocket"})
METHODS = frozenset({"GET", "POST", "OPTIONS"})


class SessionState(Enum):
    MISSING = "missing"  # not held by this instance (never was, or forgotten)
    OPENING = "opening"  # created, its handshake not finished
    OPEN = "open"  # long-polling, or upgrading
    UPGRADED = "upgraded"  # on a WebSocket
    CLOSED = "closed"  # closing or closed, not yet forgotten


@dataclass(frozen=True, slots=True)
class Verdict:
    """How to answer: `reason` for the client and the audit line; `close_after_accept` for a WebSocket."""

    reason: str
    close_after_accept: bool = False


def query_of(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def check(scope: Scope, state: SessionState | None) -> Verdict | None:
    """None when python-engineio may handle the request; else why not.

    `state` is the state of the session the request names (None without `sid`).
    """
    websocket = scope["type"] == "websocket"
    method = "GET" if websocket else str(scope.get("method", "GET"))
    if method not in METHODS:
        return Verdict(f"method {method[:16]} is not part of the Engine.IO protocol")
    if method == "OPTIONS":
        return None  # a browser's CORS preflight: python-engineio answers it
    query = query_of(scope)
    transport = query.get("transport", [""])[0]
    if transport not in TRANSPORTS:
        return Verdict("transport must be polling or websocket")
    if websocket != (transport == "websocket"):
        return Verdict(f"a {'WebSocket' if websocket else 'HTTP'} request with transport={transport}")
    if state is None:
        if method == "POST":
            return Verdict("a POST names its session (sid)")
        if query.get("EIO", [""])[0] != PROTOCOL_VERSION:
            return Verdict(f"EIO must be {PROTOCOL_VERSION} (Engine.IO v4, socket.io-client 3 and later)")
        if "j" in query:
            return Verdict("JSONP polling is not supported")
        return None
    if state in (SessionState.MISSING, SessionState.OPENING, SessionState.CLOSED):
        return Verdict(f"session is {state.value}")
    if state is SessionState.UPGRADED:
        if websocket:
            return Verdict("session is already upgraded to a WebSocket", close_after_accept=True)
        return Verdict("session is upgraded to a WebSocket: no more HTTP requests")
    return None
