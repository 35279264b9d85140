"""Resumable rooms for Python services: each event once, in order, across reconnects.

A client of the event server for agents and workers, built on python-socketio's
asyncio client: the Python twin of the JavaScript helper the server ships at
`/ws/static/realtime-client.js`. It remembers the last offset and epoch of every
room it joined, resubscribes with `since` after every reconnect (the server
re-sends what was missed), drops duplicates, and asks again when a live event
shows a gap. When history no longer reaches back (`recovered: false`), or a
room's stream was reset, it calls `on_reset(room, info)`: reload that room's
state over REST. WEBSOCKET_API.md ("History and resume") has the wire contract.

One file whose only dependency is `python-socketio[asyncio_client]` (tested
with 5.18): copy it into your service. Example::

    import asyncio
    from realtime_client import RoomClient

    async def main(token: str) -> None:
        async with RoomClient(storage="positions.json", on_reset=reload_over_rest) as rooms:
            rooms.on("workflow.progress", lambda event: print(event["data"]["progress"]))
            await rooms.connect(["http://events-a:8000", "http://events-b:8000"], token=token)
            await rooms.subscribe("workflow:3f0c…")
            await rooms.wait()  # until close(), or the server revokes this user's access

What it guarantees:

* Handlers (`on(type, handler)`, `"*"` for every event), sync or async, run one
  at a time in the order of the room's offsets, on a task of their own: a slow
  handler never holds the connection up (events wait in memory meanwhile).
  `on_reset`, `on_recovered` and `on_error` run in the same sequence, so events
  that follow a reset are handled after your reload.
* The connection is kept up: a lost connection, a refused reconnect or a
  `server.shutdown` (after the delay the server suggests) lead to another
  attempt, on the next URL of the list, with capped backoff. `token` may be a
  function, called before each attempt, so a reconnect uses a fresh token.
* With `storage` (a JSON file path, a dict-like object or your own
  `PositionStore`), a room's position is saved once the handlers of an event
  have returned, so a worker that restarts resumes where it stopped: events
  are handled at least once across restarts, exactly once within a run.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict

import socketio

__all__ = [
    "ConnectRefused",
    "JsonFileStore",
    "MappingStore",
    "Position",
    "PositionStore",
    "RecoveredInfo",
    "ResetInfo",
    "RoomClient",
]

NAMESPACE = "/ws"  # the server's one Socket.IO namespace
ENGINEIO_PATH = "ws/socket.io"  # its Engine.IO endpoint under the /ws mount
ACK_TIMEOUT = 10.0
DRAIN_TIMEOUT = 10.0
# After these codes in `connection.error` reconnecting cannot help: the server cut this user off.
FINAL_CODES = frozenset({"ACCESS_REVOKED"})

log = logging.getLogger("realtime_client")


class Position(TypedDict):
    offset: int
    epoch: str


class ResetInfo(TypedDict):
    reason: str  # epoch_changed, history_expired, ahead_of_stream, history_unavailable, replay_limited
    position: Position | None  # where the room's stream is now, when the server said


class RecoveredInfo(TypedDict):
    replayed: int
    position: Position | None


Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None] | None]
ResetCallback = Callable[[str, ResetInfo], Awaitable[None] | None]
RecoveredCallback = Callable[[str, RecoveredInfo], Awaitable[None] | None]
# `room` is None when the error is the connection's (a refused reconnect, a `connection.error`).
ErrorCallback = Callable[[str | None, dict[str, Any]], Awaitable[None] | None]
TokenSource = str | Callable[[], str | Awaitable[str]]


class ConnectRefused(Exception):
    """The server refused the connection (`code` as in WEBSOCKET_API.md, e.g. `AUTH_EXPIRED`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PositionStore(Protocol):
    """Where positions outlive the process. Called from the handler task, one call at a time."""

    def load(self, room: str) -> Position | None: ...
    def save(self, room: str, position: Position) -> None: ...
    def remove(self, room: str) -> None: ...


class MappingStore:
    """Positions in a dict-like object (a `dict`, a `shelve`, your cache's mapping)."""

    def __init__(self, mapping: MutableMapping[str, Position] | None = None) -> None:
        self.mapping: MutableMapping[str, Position] = {} if mapping is None else mapping

    def load(self, room: str) -> Position | None:
        return _position(self.mapping.get(room))

    def save(self, room: str, position: Position) -> None:
        self.mapping[room] = position

    def remove(self, room: str) -> None:
        self.mapping.pop(room, None)


class JsonFileStore(MappingStore):
    """Positions in a JSON file, rewritten whole (write, then rename) on every change."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            loaded = json.loads(self.path.read_text())
        except FileNotFoundError:
            loaded = {}
        super().__init__({room: p for room, raw in loaded.items() if (p := _position(raw)) is not None})

    def save(self, room: str, position: Position) -> None:
        super().save(room, position)
        self._write()

    def remove(self, room: str) -> None:
        super().remove(room)
        self._write()

    def _write(self) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(dict(self.mapping)))
        os.replace(temporary, self.path)  # a crash leaves the old file or the new one, never half


def _position(raw: Any) -> Position | None:
    if isinstance(raw, dict) and isinstance(raw.get("offset"), int) and isinstance(raw.get("epoch"), str):
        return Position(offset=raw["offset"], epoch=raw["epoch"])
    return None


@dataclass
class _Room:
    offset: int = 0
    epoch: str | None = None  # None until the server first said where the room is
    pending: bool = False  # a subscribe is on its way: live events wait in `parked`
    asking: int = 0  # number of the latest subscribe; older answers are ignored
    parked: list[tuple[str, Event]] = field(default_factory=list)


class RoomClient:
    """Rooms of one connection to the event server; see the module docstring."""

    def __init__(
        self,
        *,
        replay: Literal["policy", "all"] = "policy",
        storage: PositionStore | MutableMapping[str, Position] | str | os.PathLike[str] | None = None,
        on_reset: ResetCallback | None = None,
        on_recovered: RecoveredCallback | None = None,
        on_error: ErrorCallback | None = None,
        path: str = ENGINEIO_PATH,
        transports: Sequence[str] | None = None,
        ack_timeout: float = ACK_TIMEOUT,
        reconnect_delay: float = 0.5,
        reconnect_delay_max: float = 5.0,
        **client_options: Any,
    ) -> None:
        """`replay`: "policy" replays per event type (only the latest `workflow.progress` of a
        workflow...), "all" every kept event. `client_options` go to `socketio.AsyncClient`
        (`ssl_verify`, `http_session`, `logger`...); reconnection is this class's job.
        """
        self.replay = replay
        self.store = _as_store(storage)
        self.on_reset = on_reset
        self.on_recovered = on_recovered
        self.on_error: ErrorCallback = on_error or _warn
        self.path = path
        self.transports = list(transports) if transports else None
        self.ack_timeout = ack_timeout
        self.reconnect_delay = reconnect_delay
        self.reconnect_delay_max = reconnect_delay_max
        self.sio = socketio.AsyncClient(reconnection=False, **client_options)
        self.url: str | None = None  # the server of the current (or last) connection
        self.connections = 0  # successful connects so far
        self._urls: list[str] = []
        self._next_url = 0
        self._token: TokenSource = ""
        self._rooms: dict[str, _Room] = {}
        self._handlers: dict[str, list[Handler]] = {}
        self._queue: asyncio.Queue[Callable[[], Awaitable[None] | None]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._stopped = asyncio.Event()
        self._closing = False
        self._refusal: dict[str, Any] | None = None
        self._closing_code: str | None = None
        self._shutdown_delay: float | None = None
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        self.sio.on("*", self._on_event, namespace=NAMESPACE)

    # -- the caller's side -----------------------------------------------------
    def on(self, event_type: str, handler: Handler) -> None:
        """Call `handler(event)` for each event of `event_type` ("*": every event), once, in order."""
        self._handlers.setdefault(event_type, []).append(handler)

    def off(self, event_type: str, handler: Handler) -> None:
        if handler in self._handlers.get(event_type, []):
            self._handlers[event_type].remove(handler)

    def position(self, room: str) -> Position | None:
        """The last position accepted in `room` (handlers may still be running for it)."""
        state = self._rooms.get(room)
        if state is None or state.epoch is None:
            return None
        return Position(offset=state.offset, epoch=state.epoch)

    async def connect(self, urls: str | Sequence[str], token: TokenSource) -> None:
        """Connect to the first of `urls` that answers, then stay connected until `close()`.

        Raises `ConnectRefused` when a server refuses (a bad token), `socketio.exceptions.
        ConnectionError` when none could be reached; later losses are retried by themselves.
        """
        self._urls = [urls] if isinstance(urls, str) else list(urls)
        self._token = token
        failure: Exception | None = None
        for _ in self._urls:
            try:
                await self._connect_next()
                break
            except (socketio.exceptions.ConnectionError, ValueError) as exc:
                failure = exc
                if self._refusal is not None:
                    raise self._refused() from None
        else:
            assert failure is not None
            raise failure
        self._supervisor = self._start(self._stay_connected)

    async def subscribe(self, room: str) -> dict[str, Any]:
        """Join `room`, resuming from the stored position if there is one; the server's ack.

        Not connected: `{"status": "queued"}`, and the room is joined on connect.
        """
        state = self._rooms.get(room)
        if state is None:
            saved = self.store.load(room) if self.store else None
            state = self._rooms[room] = _Room()
            if saved is not None:
                state.offset, state.epoch = saved["offset"], saved["epoch"]
        if not self._joined():
            return {"status": "queued", "room": room}
        return await self._resume(room, state)

    async def unsubscribe(self, room: str) -> dict[str, Any]:
        self._forget(room)
        if not self._joined():
            return {"status": "success", "room": room}
        ack: dict[str, Any] = await self.sio.call(
            "unsubscribe", {"room": room}, namespace=NAMESPACE, timeout=self.ack_timeout
        )
        return ack

    async def drain(self) -> None:
        """Wait until the handlers have seen everything received so far."""
        await self._queue.join()

    async def wait(self) -> None:
        """Until `close()`, or until the server cut this user off for good (`ACCESS_REVOKED`)."""
        await self._stopped.wait()

    async def close(self) -> None:
        """Disconnect, let the handlers finish what was received (up to 10 s), stop."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
        await self.sio.disconnect()
        if self._dispatcher is not None and not self._dispatcher.done():
            try:
                await asyncio.wait_for(self._queue.join(), DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("realtime_client: handlers still busy after %ss; stopping them", DRAIN_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._stopped.set()

    async def __aenter__(self) -> RoomClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- staying connected ---------------------------------------------------------
    async def _connect_next(self) -> None:
        url = self._urls[self._next_url % len(self._urls)]
        self._next_url += 1  # the next attempt, after a failure or a loss, tries the next server
        self._refusal = self._closing_code = self._shutdown_delay = None
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        self._lost.clear()
        await self.sio.connect(
            url, auth={"token": token}, namespaces=[NAMESPACE], socketio_path=self.path,
            transports=self.transports, wait_timeout=self.ack_timeout,
        )  # fmt: skip
        self.url = url
        self.connections += 1
        log.info("realtime_client: connected to %s", url)

    async def _stay_connected(self) -> None:
        while True:
            await self._lost.wait()
            if self._closing_code in FINAL_CODES:
                log.warning("realtime_client: %s, not reconnecting", self._closing_code)
                self._stopped.set()
                return
            delay = self.reconnect_delay if self._shutdown_delay is None else self._shutdown_delay
            while True:
                # Also gives python-engineio time to finish closing the old session: connecting
                # before it has raises ValueError, retried like any failed attempt.
                await asyncio.sleep(delay)
                try:
                    await self._connect_next()
                    break
                except (socketio.exceptions.ConnectionError, ValueError) as exc:
                    if self._refusal is not None:
                        refused = self._refused()
                        error = {"code": refused.code, "message": refused.message}
                        self._later(functools.partial(self.on_error, None, error))
                    log.info("realtime_client: reconnecting failed (%s)", exc)
                    delay = min(max(delay, self.reconnect_delay) * 2, self.reconnect_delay_max)

    def _joined(self) -> bool:
        # Set just before python-socketio calls _on_connect: a room added later is subscribed here.
        return NAMESPACE in self.sio.namespaces

    def _refused(self) -> ConnectRefused:
        refusal = self._refusal or {}
        data = _fields(refusal.get("data"))
        return ConnectRefused(str(data.get("code", "REFUSED")), str(refusal.get("message", "")))

    # -- python-socketio handlers: synchronous, so that they run in the order packets arrived ------
    def _on_connect(self) -> None:
        for room, state in list(self._rooms.items()):
            self._resume(room, state)

    def _on_disconnect(self, reason: Any = None) -> None:
        level = logging.INFO if self._closing else logging.WARNING
        log.log(level, "realtime_client: disconnected from %s (%s)", self.url, reason)
        self._lost.set()

    def _on_connect_error(self, data: Any = None) -> None:
        self._refusal = data if isinstance(data, dict) else {"message": str(data)}

    def _on_event(self, name: str, *args: Any) -> None:
        event = args[0] if len(args) == 1 else None
        if not isinstance(event, dict):
            return  # every event of this server is one envelope
        data = _fields(event.get("data"))
        if name == "server.shutdown" and isinstance(data.get("reconnect_delay_ms"), int):
            self._shutdown_delay = data["reconnect_delay_ms"] / 1000
        elif name == "connection.error":
            self._closing_code = str(data.get("code"))
            self._later(functools.partial(self.on_error, None, data))
        elif name == "subscription.revoked" and isinstance(data.get("room"), str):
            self._forget(data["room"])  # the server took us out: do not join it again
        room = event.get("room")
        state = self._rooms.get(room) if isinstance(room, str) else None
        offset = event.get("offset")
        if (
            state is None
            or not isinstance(room, str)
            or not isinstance(offset, int)
            or not isinstance(event.get("epoch"), str)
        ):
            self._dispatch(name, event)  # not a tracked room, or a type that is not kept
        elif state.pending:
            if event.get("replayed"):
                self._accept(room, state, name, event)  # replays come in order, before the ack
            else:
                state.parked.append((name, event))  # handled after the ack, in order
        else:
            self._live(room, state, name, event)

    # -- the rules of resuming (as in realtime-client.js) ---------------------------------
    def _resume(self, room: str, state: _Room) -> asyncio.Future[dict[str, Any]]:
        state.pending = True
        state.asking += 1
        asking = state.asking
        request: dict[str, Any] = {"room": room, "replay": self.replay}
        if state.epoch is not None:
            request["since"] = {"offset": state.offset, "epoch": state.epoch}
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def on_ack(*args: Any) -> None:  # called by python-socketio in packet order
            ack = args[0] if args and isinstance(args[0], dict) else {"status": "error", "code": "BAD_ACK"}
            if not answer.done():
                answer.set_result(ack)
            if self._rooms.get(room) is state and state.asking == asking:
                self._answered(room, state, "since" in request, ack)

        async def ask() -> None:
            try:
                await self.sio.emit("subscribe", request, namespace=NAMESPACE, callback=on_ack)
            except socketio.exceptions.BadNamespaceError:  # disconnected: the next connect asks again
                if state.asking == asking:
                    state.pending = False
                if not answer.done():
                    answer.set_result({"status": "queued", "room": room})
                return
            try:
                await asyncio.wait_for(asyncio.shield(answer), self.ack_timeout)
            except TimeoutError:
                timeout = {"status": "error", "code": "TIMEOUT", "message": "no answer to subscribe"}
                if state.asking == asking:
                    state.pending = False  # the next gap, or the next connect, asks again
                    self._later(lambda: self.on_error(room, timeout))
                if not answer.done():
                    answer.set_result(timeout)

        self._start(ask)
        return answer

    def _answered(self, room: str, state: _Room, resuming: bool, ack: dict[str, Any]) -> None:
        if ack.get("status") != "success":
            state.pending = False
            if ack.get("code") == "FORBIDDEN":
                self._forget(room)
            self._later(lambda: self.on_error(room, ack))
            return
        position = _position(ack.get("position"))
        if resuming and ack.get("recovered") is False:
            reset = ResetInfo(reason=str(ack.get("reason")), position=position)
            self._later(lambda: self.on_reset(room, reset) if self.on_reset else None)
        elif resuming:
            recovered = RecoveredInfo(replayed=int(ack.get("replayed") or 0), position=position)
            self._later(lambda: self.on_recovered(room, recovered) if self.on_recovered else None)
        if position is None and ack.get("recovered") is False:
            state.epoch = None  # where the room is is unknown: take the next live event as it comes
        elif position is not None:
            fresh = ack.get("recovered") is False or state.epoch != position["epoch"]
            state.offset = position["offset"] if fresh else max(state.offset, position["offset"])
            state.epoch = position["epoch"]
            self._save_later(room, state)
        state.pending = False
        parked, state.parked = sorted(state.parked, key=lambda pair: int(pair[1]["offset"])), []
        for name, event in parked:
            if state.pending:
                state.parked.append((name, event))  # a gap started another resume
            else:
                self._live(room, state, name, event)

    def _live(self, room: str, state: _Room, name: str, event: Event) -> None:
        offset, epoch = int(event["offset"]), str(event["epoch"])
        if state.epoch is not None and epoch != state.epoch:
            if not (state.epoch == "" and offset == 1):  # "" is the room before its first event
                reset = ResetInfo(reason="epoch_changed", position=None)
                self._later(lambda: self.on_reset(room, reset) if self.on_reset else None)
            state.epoch, state.offset = epoch, offset - 1
        if offset <= state.offset:
            return  # seen already
        if state.epoch is not None and offset > state.offset + 1:
            state.parked.append((name, event))  # a gap: ask for what is missing first
            self._resume(room, state)
            return
        self._accept(room, state, name, event)

    def _accept(self, room: str, state: _Room, name: str, event: Event) -> None:
        offset, epoch = int(event["offset"]), str(event["epoch"])
        if offset <= state.offset and epoch == state.epoch:
            return
        state.offset, state.epoch = offset, epoch
        self._dispatch(name, event)
        self._save_later(room, state)

    def _forget(self, room: str) -> None:
        self._rooms.pop(room, None)
        if self.store is not None:
            self._later(functools.partial(self.store.remove, room))  # after the room's pending saves

    # -- the handler task ------------------------------------------------------------------
    def _dispatch(self, name: str, event: Event) -> None:
        async def run() -> None:
            # "*" sees each envelope once, under its type (not again under an alias of the name).
            everything = self._handlers.get("*", []) if event.get("type", name) == name else []
            for handler in [*self._handlers.get(name, ()), *everything]:
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("realtime_client: a handler of %s failed", name)

        self._later(run)

    def _save_later(self, room: str, state: _Room) -> None:
        if self.store is None or state.epoch is None:
            return
        position, store = Position(offset=state.offset, epoch=state.epoch), self.store
        self._later(lambda: store.save(room, position) if self._rooms.get(room) is state else None)

    def _later(self, call: Callable[[], Awaitable[None] | None]) -> None:
        if self._dispatcher is None:
            self._dispatcher = self._start(self._deliver_forever)
        self._queue.put_nowait(call)

    async def _deliver_forever(self) -> None:
        while True:
            call = await self._queue.get()
            try:
                result = call()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("realtime_client: a callback failed")
            finally:
                self._queue.task_done()

    def _start(self, target: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(target())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _as_store(
    storage: PositionStore | MutableMapping[str, Position] | str | os.PathLike[str] | None,
) -> PositionStore | None:
    if storage is None:
        return None
    if isinstance(storage, str | os.PathLike):
        return JsonFileStore(storage)
    if isinstance(storage, MutableMapping):
        return MappingStore(storage)
    return storage


def _fields(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _warn(room: str | None, error: dict[str, Any]) -> None:
    log.warning("realtime_client: %s: %s %s", room or "connection", error.get("code"), error.get("message"))
