"""The audit trail: one log line for every refusal, denial and forced disconnect.

Every line goes to the `audit` logger with the same fields, so an operator can
route or search them as one stream: the event name, the error `code`, the
`user_id` when the token was understood, and `client_addr`, the peer as the
ASGI scope gives it (the real client behind a configured trusted proxy, see
`TRUSTED_PROXIES`; never the `REMOTE_ADDR` of ASGI mode, always 127.0.0.1).

Repeats are summarised, so that a flood cannot turn into a flood of log
lines: while the summaries run (started and stopped with the app's lifespan),
the first refusal of a kind (event, code, user, connection) from an address is
written at once (an IPv6 address counts by its network of
`ADDRESS_LIMIT_IPV6_PREFIX` bits, as the limits do; the summary line names
that network), and its repeats are only counted; when `AUDIT_SUMMARY_INTERVAL` ends,
each kind that repeated gets one line with the same fields and `repeated: n`
(the refusals not written one by one), and a kind that did not repeat is
forgotten, so its next refusal is written at once again. At most
`MAX_TRACKED_ADDRESSES` kinds are held; beyond them repeats are counted per
(event, code) under `client_addr: "(other addresses)"`. A line about one
established connection (it names a `connection_id`: a forced disconnect, a
revocation) is its own kind, so each connection's first is written: they are
bounded by the connections an address may hold. Nothing counted is
lost: stopping writes what is left. Outside a running app every refusal is
written as it happens.

Nothing here ever receives a token: callers pass codes and short reasons, and
the log processors redact anything token-shaped that slips through elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from logging_setup import get_logger
from websocket.limits.addresses import DEFAULT_IPV6_PREFIX, address_key
from websocket.protocol.errors import ErrorCode

log = get_logger("audit")
OTHER_ADDRESSES = "(other addresses)"
# (event, code, client_addr, user_id, connection_id)
Kind = tuple[str, str, str, str | None, str | None]


class Summaries:
    """Counts repeated refusals per kind and writes one line per kind per interval."""

    def __init__(self) -> None:
        self.interval = 60.0
        self.max_kinds = 10_000
        self.key = address_key(DEFAULT_IPV6_PREFIX)
        self._repeats: dict[Kind, list[Any]] = {}  # kind -> [repeats, level]
        self._task: asyncio.Task[None] | None = None
        self._users = 0  # apps whose lifespan started the summaries (tests run several)

    @property
    def running(self) -> bool:
        return self._task is not None

    def first(self, kind: Kind, level: str) -> bool:
        """True: write this refusal now; False: it was counted for the summary."""
        entry = self._repeats.get(kind)
        if entry is None and len(self._repeats) >= self.max_kinds:
            kind = (kind[0], kind[1], OTHER_ADDRESSES, None, None)
            entry = self._repeats.get(kind)
        if entry is None:
            self._repeats[kind] = [0, level]
            return True
        entry[0] += 1
        return False

    def flush(self) -> None:
        """Write a line for each kind that repeated; forget the kinds that did not."""
        quiet = []
        for kind, entry in self._repeats.items():
            repeated, level = entry
            if not repeated:
                quiet.append(kind)
                continue
            entry[0] = 0
            event, code, client_addr, user_id, connection_id = kind
            fields: dict[str, Any] = {"code": code, "client_addr": client_addr, "repeated": repeated}
            if user_id is not None:
                fields["user_id"] = user_id
            if connection_id is not None:
                fields["connection_id"] = connection_id
            getattr(log, level)(event, interval_s=self.interval, **fields)
        for kind in quiet:
            del self._repeats[kind]

    def start(self, interval: float, max_kinds: int, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> None:
        self._users += 1
        if self._task is None:
            self.interval, self.max_kinds = interval, max_kinds
            self.key = address_key(ipv6_prefix)
            self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users or self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.flush()
        self._repeats.clear()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a failing log handler must not end the summaries
                log.exception("audit_summary_failed")


summaries = Summaries()


def start_summaries(interval: float, max_kinds: int, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> None:
    """Summarise repeats from now on (call from the app's lifespan, on its event loop)."""
    summaries.start(interval, max_kinds, ipv6_prefix)


async def stop_summaries() -> None:
    """Write what was counted and go back to one line per refusal."""
    await summaries.stop()


def client_of(scope: Mapping[str, Any]) -> str:
    """The client address of an ASGI request (its scope: a Starlette Request is one too)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def denied(
    event: str,
    code: ErrorCode | str,
    *,
    client_addr: str,
    user_id: str | None = None,
    level: str = "warning",
    **detail: Any,
) -> None:
    """Record that something a client asked for was refused, or that it was cut off.

    `code` is what the client was answered: an ErrorCode, or the code of an
    HTTP contract that has its own (the GitHub webhook's INVALID_SIGNATURE).
    """
    value = code.value if isinstance(code, ErrorCode) else code
    connection = detail.get("connection_id")
    if summaries.running:
        counted_as = summaries.key(client_addr)
        kind = (event, value, counted_as, user_id, connection if isinstance(connection, str) else None)
        if not summaries.first(kind, level):
            return
    fields = {"code": value, "client_addr": client_addr, **detail}
    if user_id is not None:
        fields["user_id"] = user_id
    getattr(log, level)(event, **fields)
