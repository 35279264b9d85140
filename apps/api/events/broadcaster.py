"""`get_broadcaster()`: the one way application code emits events.

    from events.broadcaster import get_broadcaster
    await get_broadcaster().broadcast_project_updated(project_id=..., ...)

Every `broadcast_<type>` method is real source, generated from the payload
models into `events.broadcast_methods` (`make docs`; a test fails when it is
stale): its keyword arguments are the fields of that type's payload model
(see `websocket.protocol.payloads`), typed as what the model accepts, so mypy
and editors see them and a misspelt keyword fails type-checking in the caller.
It builds the model (a wrong argument raises `pydantic.ValidationError` at the
call site), routes the event to the rooms the model declares, and returns True
when it was handed to the delivery layer or False when that failed (logged,
never raised). `publish(payload)` is the same with a model instance;
`publish_result(payload)` also tells the event's id, and `publish_many(payloads)`
publishes a batch in order for less than a call per event (a burst of
progress steps, `POST /api/events` with 100 items).

Every method takes an optional `idempotency_key`: a producer that may repeat
itself (a retried Temporal activity, a service retrying a POST) passes the
same key each time, and a repeat within the dedupe window is dropped instead
of reaching clients twice (see `events.dedupe`).

`revoke_room(user_id, room)` and `disconnect_user(user_id, reason)` take
access away from a user's live connections on every instance (see
`websocket.access.revocation`); they return True when the order was handed on.

The broadcaster object is process-wide and never replaced: the server attaches
its transport at start-up, so a reference taken at import time stays valid.
In a process that serves no sockets (a worker, a script) it publishes through
Redis when `REDIS_URL` is set, with nothing else to configure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config import get_publisher_settings
from events.broadcast_methods import BroadcastMethods
from events.dedupe import (
    DEFAULT_WINDOW,
    DedupeStore,
    claim_many_or_proceed,
    claim_or_proceed,
    create_dedupe_store,
    release_quietly,
)
from logging_setup import get_logger
from websocket.access.revocation import Revocation
from websocket.broker.connection import RedisPublisher
from websocket.broker.revocations import RedisRevocations
from websocket.broker.transport import RedisTransport
from websocket.history.in_redis import RedisHistory
from websocket.protocol.envelope import OutboundEvent
from websocket.protocol.event_types import Payload

log = get_logger("events.broadcaster")
_stdlib_log = logging.getLogger("events.broadcaster")  # the logger behind `log`, whose level decides


class Transport(Protocol):
    """Delivers one event to its rooms; True when the event was accepted for delivery."""

    name: str

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool: ...

    async def aclose(self) -> None: ...


class BatchTransport(Transport, Protocol):
    """A transport that also delivers a batch at once: a bool per (event, rooms), in order.

    `publish_many` uses it when the transport has it (Redis: one pipeline for
    the batch); otherwise it sends event by event.
    """

    async def send_many(self, batch: Sequence[tuple[OutboundEvent, Sequence[str]]]) -> Sequence[bool]: ...


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a call per field
class _Pending:
    """An event on its way: its rooms and the dedupe keys it claims."""

    event: OutboundEvent
    targets: list[str]
    claims: list[str]

    @classmethod
    def of(cls, payload: Payload, rooms: Sequence[str] | None, keys: Sequence[str]) -> _Pending:
        targets = list(rooms) if rooms is not None else payload.target_rooms()
        return cls(OutboundEvent.create(payload), targets, [f"event:{key}" for key in keys] if keys else [])


class NoTransport:
    """Used in a process with no server and no Redis: nothing can deliver."""

    name = "none"

    async def send(self, event: OutboundEvent, rooms: Sequence[str]) -> bool:
        log.warning(
            "event_dropped",
            reason="no_transport",
            hint="no server runs in this process and REDIS_URL is not set",
            event_type=event.name,
            rooms=list(rooms),
        )
        return False

    async def control(self, message: dict[str, Any]) -> bool:
        log.warning("control_dropped", reason="no_transport", method=message.get("method"))
        return False

    async def aclose(self) -> None:
        return None


def default_transport() -> Transport:
    """For a process without a server: publish through Redis when REDIS_URL is set."""
    settings = get_publisher_settings()
    if not settings.redis_url:
        return NoTransport()
    publisher = RedisPublisher(settings.redis_url, settings.socketio_channel, settings.broadcast_timeout)
    history = RedisHistory(
        publisher,
        settings.redis_key_prefix,
        settings.history_size,
        settings.history_ttl,
        settings.history_meta_ttl,
    )
    revocations = RedisRevocations(publisher, settings.redis_key_prefix, settings.jwt_max_lifetime)
    return RedisTransport(publisher, history, revocations=revocations)


class BroadcastObserver(Protocol):
    """Told about every publish (the server's metrics)."""

    def event_broadcast(self, event_type: str, ok: bool, duration_s: float) -> None: ...


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What became of one event: its id, whether it was accepted, whether it was a repeat."""

    event_id: str
    ok: bool
    rooms: tuple[str, ...]
    duplicate: bool = False


class EventBroadcaster(BroadcastMethods):
    """Publishes events and revocations; one `broadcast_<type>` per publishable event type
    comes from `BroadcastMethods` (generated; none for the server-owned types in
    websocket.protocol.catalog.SERVER_OWNED_EVENTS)."""

    def __init__(self, transport: Transport | None = None, dedupe: DedupeStore | None = None) -> None:
        self._transport: Transport | None = transport
        self._observer: BroadcastObserver | None = None
        self._attached = False
        self._dedupe = dedupe
        self.dedupe_window = DEFAULT_WINDOW

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = default_transport()
        return self._transport

    def attach(self, transport: Transport, observer: BroadcastObserver | None = None) -> None:
        """Used by the server: deliver through it from now on (and report to `observer`)."""
        self._transport = transport
        self._observer = observer
        self._attached = True

    def detach(self) -> None:
        self._transport = None
        self._observer = None
        self._attached = False

    @property
    def attached(self) -> bool:
        """Whether a server in this process delivers (rather than a publisher of our own)."""
        return self._attached

    async def aclose(self) -> None:
        """Release connections (a script's last step); the next broadcast opens them again."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    async def __aenter__(self) -> EventBroadcaster:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def dedupe(self) -> DedupeStore:
        """Where idempotency keys are remembered; by default chosen from `REDIS_URL`."""
        if self._dedupe is None:
            settings = get_publisher_settings()
            self._dedupe = create_dedupe_store(settings.redis_url, settings.redis_key_prefix)
        return self._dedupe

    def use_dedupe(self, store: DedupeStore | None, window: float = DEFAULT_WINDOW) -> None:
        """Remember idempotency keys in `store` for `window` seconds (None: the default store)."""
        self._dedupe = store
        self.dedupe_window = window

    async def publish(
        self, payload: Payload, *, rooms: Sequence[str] | None = None, idempotency_key: str | None = None
    ) -> bool:
        """Send `payload` to the rooms its model routes it to (or to `rooms`)."""
        keys = () if idempotency_key is None else (idempotency_key,)
        return (await self._publish(payload, rooms, keys, self.transport)).ok

    async def publish_result(
        self,
        payload: Payload,
        *,
        rooms: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        also_once_per: Sequence[str] = (),
    ) -> PublishResult:
        """`publish`, telling the event's id; a repeated key answers with the first event's id.

        `also_once_per`: further keys claimed with `idempotency_key`; the event is a
        repeat when any of them was claimed earlier (a webhook is deduplicated on
        its delivery id and on its body). All are given back if delivery fails.
        """
        keys = (idempotency_key, *also_once_per) if idempotency_key is not None else tuple(also_once_per)
        return await self._publish(payload, rooms, keys, self.transport)

    async def publish_many(
        self,
        payloads: Sequence[Payload],
        *,
        rooms: Sequence[str] | None = None,
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[PublishResult]:
        """Publish a batch in order, one `PublishResult` per payload; cheaper than a call per event.

        Each event is numbered, deduplicated (`idempotency_keys[i]` for `payloads[i]`),
        counted and delivered as by `publish_result`, and events to one room
        arrive in the order given. Through Redis the batch is one round trip
        (the transport's `send_many`), not one per event. Every item must be a
        payload model instance (built, hence validated, by the caller): anything
        else raises TypeError before any of the batch is published. A failed
        delivery fails that event only; the rest are still published (see each
        result's `ok`).
        """
        if idempotency_keys is not None and len(idempotency_keys) != len(payloads):
            raise ValueError(f"{len(idempotency_keys)} idempotency keys for {len(payloads)} payloads")
        for index, payload in enumerate(payloads):
            if not isinstance(payload, Payload):
                raise TypeError(f"payloads[{index}] is a {type(payload).__name__}, not a payload model")
        transport = self.transport
        keys = idempotency_keys or [None] * len(payloads)
        send_many = getattr(transport, "send_many", None)
        if send_many is None:  # a transport with no batch form: one call per event
            return [
                await self._publish(payload, rooms, () if key is None else (key,), transport)
                for payload, key in zip(payloads, keys, strict=True)
            ]
        admitted = await self._admit_batch(
            [
                _Pending.of(payload, rooms, () if key is None else (key,))
                for payload, key in zip(payloads, keys, strict=True)
            ]
        )
        pending = [item for item in admitted if isinstance(item, _Pending)]
        answers = iter(await self._send_batch(pending, send_many, transport) if pending else ())
        # A repeat is answered where it stands; the others by the batch, in the same order.
        return [item if isinstance(item, PublishResult) else next(answers) for item in admitted]

    async def _send_batch(
        self, pending: list[_Pending], send_many: Any, transport: Transport
    ) -> list[PublishResult]:
        started = time.perf_counter()
        try:
            sent = list(await send_many([(item.event, item.targets) for item in pending]))
        except Exception as exc:  # as publish(): a delivery failure never reaches the caller
            error = f"{type(exc).__name__}: {exc}"
            log.error("event_broadcast_failed", events=len(pending), error=error)
            sent = [False] * len(pending)
        each = (time.perf_counter() - started) / len(pending)  # the batch's time, shared out
        results = [self._count(item, ok, each, transport) for item, ok in zip(pending, sent, strict=True)]
        for item, ok in zip(pending, sent, strict=True):
            if not ok:
                await self._release(item)
        return results

    async def _publish(
        self, payload: Payload, rooms: Sequence[str] | None, keys: Sequence[str], transport: Transport
    ) -> PublishResult:
        """One event, the same for every way in: dedupe, deliver, count; logged only when it goes wrong.

        Nothing on the way is a coroutine of its own unless it waits for something
        (a dedupe claim, the transport, giving claims back): at tens of thousands
        of events a second each such call is a measurable share of a publish.
        """
        item = _Pending.of(payload, rooms, keys)
        if item.claims and (repeat := await self._repeat(item)) is not None:
            return repeat
        started = time.perf_counter()
        try:
            success = await transport.send(item.event, item.targets)
        except Exception as exc:  # a delivery failure must never reach the caller
            log.error(
                "event_broadcast_failed",
                event_type=item.event.name,
                event_id=item.event.id,
                rooms=item.targets,
                error=f"{type(exc).__name__}: {exc}",
            )
            success = False
        result = self._count(item, success, time.perf_counter() - started, transport)
        if not success:
            await self._release(item)
        return result

    async def _admit_batch(self, items: list[_Pending]) -> list[_Pending | PublishResult]:
        """Each item to send, or the answer to a repeat; the batch's keys claimed at once (one each)."""
        claims = [(item.claims[0], item.event.id) for item in items if item.claims]
        answers = iter(await claim_many_or_proceed(self.dedupe, claims, self.dedupe_window) if claims else ())
        admitted: list[_Pending | PublishResult] = []
        for item in items:
            earlier = next(answers) if item.claims else None
            admitted.append(item if earlier is None else self._repeated(item, earlier))
        return admitted

    async def _repeat(self, item: _Pending) -> PublishResult | None:
        """Claim the event's keys; the answer to a repeat when one was claimed earlier, else None."""
        earlier = await self._claim_all(item.claims, item.event.id)
        return None if earlier is None else self._repeated(item, earlier)

    def _repeated(self, item: _Pending, earlier: str) -> PublishResult:
        """A repeat of the event whose id is `earlier`: answered with it, not sent."""
        keys = [claim.removeprefix("event:") for claim in item.claims]
        log.info(
            "event_duplicate_dropped",
            event_type=item.event.name,
            event_id=earlier,
            idempotency_key=keys[0],
            also_once_per=list(keys[1:]) or None,
        )
        return PublishResult(earlier, True, tuple(item.targets), duplicate=True)

    def _count(self, item: _Pending, success: bool, duration: float, transport: Transport) -> PublishResult:
        """Count the event, and log it when it failed (or at debug level).

        A line per delivered event costs more than the rest of a publish at high
        rates (ws_events_broadcast_total counts them): it is written at debug
        level, and only built when debug is on.
        """
        event, targets = item.event, item.targets
        if self._observer is not None:
            self._observer.event_broadcast(event.name, success, duration)
        if not success or _stdlib_log.isEnabledFor(logging.DEBUG):
            (log.debug if success else log.warning)(
                "event_broadcast",
                event_type=event.name,
                event_id=event.id,
                rooms=targets,
                ok=success,
                transport=transport.name,
                duration_ms=round(duration * 1000, 3),
            )
        return PublishResult(event.id, success, tuple(targets))

    async def _release(self, item: _Pending) -> None:
        """Not delivered: give the event's keys back, so that a retry with them is delivered."""
        for claim in item.claims:
            await release_quietly(self.dedupe, claim)

    async def _claim_all(self, claims: list[str], event_id: str) -> str | None:
        """Claim every key for `event_id`; on the first one claimed earlier, give back those
        just taken and return the earlier claim's event id."""
        for taken, claim in enumerate(claims):
            earlier = await claim_or_proceed(self.dedupe, claim, event_id, self.dedupe_window)
            if earlier is not None:
                for mine in claims[:taken]:
                    await release_quietly(self.dedupe, mine)
                return earlier
        return None

    async def revoke_room(
        self, user_id: str, room: str, reason: str = "Access to this room was revoked"
    ) -> bool:
        """Take `user_id`'s connections out of `room` on every instance; they get `subscription.revoked`.

        Raises ValueError for a malformed room or an automatic one (`global`,
        `user:<id>`: use `disconnect_user`). Tokens issued before this call can
        no longer subscribe to the room on the instances that received it.
        """
        return await self._control(Revocation.of_room(user_id, room, reason))

    async def disconnect_user(self, user_id: str, reason: str) -> bool:
        """Disconnect every connection of `user_id` on every instance, telling each why first.

        Tokens issued before this call are refused afterwards (connect and
        `auth.refresh`) on the instances that received it.
        """
        return await self._control(Revocation.of_user(user_id, reason))

    async def _control(self, revocation: Revocation) -> bool:
        transport = self.transport
        control = getattr(transport, "control", None)
        try:
            success = bool(await control(revocation.message())) if control else False
        except Exception as exc:  # like publish(): a delivery failure never reaches the caller
            log.error("revocation_failed", error=f"{type(exc).__name__}: {exc}")
            success = False
        log.info(
            "revocation_sent",
            action=revocation.action,
            user_id=revocation.user_id,
            room=revocation.room,
            ok=success,
            transport=transport.name,
        )
        return success


_broadcaster = EventBroadcaster()


def get_broadcaster() -> EventBroadcaster:
    """The process-wide broadcaster (attached to the server when one runs here)."""
    return _broadcaster
