"""What one client address may do before it is a Socket.IO connection.

An Engine.IO session costs a slot of the instance's pool (`max_sessions`) from
its handshake on, before any token has been seen; a namespace connect is where
credentials are tried. Three limits per client address keep one peer from
starving the others or guessing freely:

* **Pending sessions.** A session is *pending* from its handshake until it
  joins a namespace or ends; an address holds at most
  `MAX_PENDING_SESSIONS_PER_ADDRESS` of them. The HTTP guard reserves the
  slot before Engine.IO allocates anything (`reserve`, keyed in the ASGI
  scope), Engine.IO's connect event hands it to the new session (`claim`),
  and it is given back when the session joins (`joined`) or ends (`ended`:
  Engine.IO's disconnect event, and the connect-timeout timer as a backstop,
  so no way of ending leaks a slot). A reservation Engine.IO never claims
  (origin refused, pool full, a malformed handshake) is given back by the
  guard when the request ends (`unclaimed`).
* **Failed connects per session.** After `CONNECT_FAILURES_PER_SESSION`
  refused namespace connects, whatever the namespace, the session is closed.
* **Failed connects per address.** Each refusal that is a guess (no token, a
  token that is not ours, an unknown namespace, a wrong Admin UI password)
  takes a token from the address's bucket (`CONNECT_FAILURE_BURST`, refilled
  at `CONNECT_FAILURE_RATE` per second). While it is empty, every connect from
  the address is refused with `RATE_LIMITED` before its credentials are read.
  An expired token is not a guess (its signature is ours), and refusals that
  say something about the server (full, shutting down) are not either.

An IPv6 peer counts by its network of `ADDRESS_LIMIT_IPV6_PREFIX` bits
(websocket/limits/addresses.py): one host holds a whole /64.

State is bounded: pending counts by the sessions that exist, buckets by
`MAX_TRACKED_ADDRESSES` (the least recently charged address is forgotten).
Everything here is a dict lookup or two per handshake and per connect.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from websocket.internals.environ import asgi_scope, client_address
from websocket.limits.addresses import DEFAULT_IPV6_PREFIX, address_key
from websocket.limits.buckets import TokenBucket
from websocket.protocol.errors import ErrorCode, WebSocketError

# Where the HTTP guard leaves a reservation for Engine.IO's connect event to claim.
RESERVED = "eventserver.pending_address"
# Refusals that count as guesses against the address's bucket; None: refused
# by a handler that gave no code (python-socketio itself).
GUESSES = frozenset({ErrorCode.AUTH_REQUIRED, ErrorCode.AUTH_INVALID, ErrorCode.INVALID_NAMESPACE, None})


@dataclass(slots=True)
class ConnectAttempt:
    """The namespace connect being handled (a context variable while its handler runs)."""

    address: str
    code: ErrorCode | None = None


_attempt: ContextVar[ConnectAttempt | None] = ContextVar("connect_attempt", default=None)


def begin_attempt(address: str) -> tuple[ConnectAttempt, Any]:
    attempt = ConnectAttempt(address)
    return attempt, _attempt.set(attempt)


def end_attempt(token: Any) -> None:
    _attempt.reset(token)


def note_refusal(code: ErrorCode) -> str:
    """Called by a connect handler that refuses: why, for the accounting; returns the peer's address."""
    attempt = _attempt.get()
    if attempt is None:
        return "unknown"
    attempt.code = code
    return attempt.address


class FailureThrottle:
    """A token bucket of failed connects per address, for the most recently charged addresses."""

    def __init__(self, rate: float, burst: int, max_addresses: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def wait(self, address: str, now: float | None = None) -> float:
        """Seconds until `address` may try again (0: now)."""
        bucket = self._buckets.get(address)
        return 0.0 if bucket is None else bucket.wait(now=now)

    def charge(self, address: str, now: float | None = None) -> None:
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.max_addresses:
                self._buckets.popitem(last=False)
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, now)
        else:
            self._buckets.move_to_end(address)
        bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


class Admission:
    def __init__(
        self,
        *,
        pending_per_address: int = 100,
        failures_per_session: int = 3,
        failure_rate: float = 0.5,
        failure_burst: int = 20,
        max_addresses: int = 10_000,
        max_sessions: int | None = None,
        sessions: Callable[[], int] = lambda: 0,
        retry_after: float = 5,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
    ) -> None:
        self.key = address_key(ipv6_prefix)
        self.pending_per_address = pending_per_address
        self.failures_per_session = failures_per_session
        self.max_sessions = max_sessions
        self.sessions = sessions
        self.retry_after = max(1, math.ceil(retry_after))
        self.throttle = FailureThrottle(failure_rate, failure_burst, max_addresses)
        self._pending: dict[str, int] = {}  # address -> sessions reserved or pending
        self._reserved = 0  # handshakes reserved, not yet sessions: they count against the pool too
        self._address_of: dict[str, str] = {}  # eio_sid -> address, while pending
        self._failures: dict[str, int] = {}  # eio_sid -> refused namespace connects

    # -- pending sessions ---------------------------------------------------
    def reserve(self, scope: MutableMapping[str, Any]) -> WebSocketError | None:
        """Before Engine.IO sees a handshake: reserve a slot for its address, or say why not."""
        client = scope.get("client")
        address = self.key(str(client[0])) if client else "unknown"
        if self.max_sessions is not None and self.sessions() + self._reserved >= self.max_sessions:
            return WebSocketError("This instance is full; try again later", ErrorCode.SERVER_FULL)
        held = self._pending.get(address, 0)
        if held >= self.pending_per_address:
            return WebSocketError(
                f"Too many sessions from this address that have not joined yet (at most "
                f"{self.pending_per_address}); try again in {self.retry_after} s",
                ErrorCode.TOO_MANY_HANDSHAKES,
            )
        self._pending[address] = held + 1
        self._reserved += 1
        scope[RESERVED] = address
        return None

    def unclaimed(self, scope: MutableMapping[str, Any]) -> None:
        """The handshake request is over: give back a reservation no session claimed."""
        address = scope.pop(RESERVED, None)
        if address is not None:
            self._reserved -= 1
            self._give_back(address)

    def claim(self, eio_sid: str, environ: dict[str, Any]) -> bool:
        """Engine.IO created session `eio_sid`: it takes its handshake's slot (False: over the cap)."""
        scope = asgi_scope(environ)
        address = scope.pop(RESERVED, None) if scope is not None else None
        if address is not None:
            self._reserved -= 1
        else:  # a handshake that did not pass the guard (an app mounted without it)
            address = self.key(client_address(environ))
            held = self._pending.get(address, 0)
            if held >= self.pending_per_address:
                return False
            self._pending[address] = held + 1
        self._address_of[eio_sid] = address
        return True

    def joined(self, eio_sid: str) -> None:
        address = self._address_of.pop(eio_sid, None)
        if address is not None:
            self._give_back(address)

    def ended(self, eio_sid: str) -> None:
        self.joined(eio_sid)
        self._failures.pop(eio_sid, None)

    def is_pending(self, eio_sid: str) -> bool:
        return eio_sid in self._address_of

    def pending(self, address: str | None = None) -> int:
        """Sessions pending (and reserved) for `address`, or for all addresses."""
        if address is None:
            return sum(self._pending.values())
        return self._pending.get(self.key(address), 0)

    def tracked(self) -> dict[str, int]:
        """Sizes of every table, for tests and diagnostics: all 0 when no session is pending."""
        return {
            "reserved": self._reserved,
            "addresses": len(self._pending),
            "sessions": len(self._address_of),
            "failures": len(self._failures),
        }

    def _give_back(self, address: str) -> None:
        held = self._pending.get(address, 0) - 1
        if held > 0:
            self._pending[address] = held
        else:
            self._pending.pop(address, None)

    # -- failed connects ----------------------------------------------------
    def throttled(self, address: str) -> float:
        """Seconds `address` must wait before its next connect is even looked at (0: none)."""
        return self.throttle.wait(self.key(address))

    def failed(self, eio_sid: str, address: str, code: ErrorCode | None) -> bool:
        """Count a refused namespace connect; True when the session has used up its tries."""
        if code in GUESSES:
            self.throttle.charge(self.key(address))
        count = self._failures.get(eio_sid, 0) + 1
        self._failures[eio_sid] = count
        return count >= self.failures_per_session
