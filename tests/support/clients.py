"""A python-socketio client that records what it receives, for assertions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio

from tests.support.tokens import token as make_token
from websocket.protocol.paths import ENGINEIO_PATH, NAMESPACE

Predicate = Callable[[dict[str, Any]], bool]


class ConnectRefused(Exception):
    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class Client:
    def __init__(self, local_addr: str | None = None, **client_options: Any) -> None:
        # local_addr: connect from this 127.0.0.x, to look like a distinct client host.
        self._session = (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(local_addr, 0)))
            if local_addr
            else None
        )
        if self._session is not None:
            client_options["http_session"] = self._session
        self.sio = socketio.AsyncClient(reconnection=False, **client_options)
        self.events: list[tuple[str, Any]] = []
        self.connect_error: Any = None
        self.disconnect_reasons: list[str] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._on_event, namespace=NAMESPACE)
        self.sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    async def _on_event(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if len(args) == 1 else list(args)))
        self._changed.set()

    async def _on_connect_error(self, data: Any) -> None:
        self.connect_error = data

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnect_reasons.append(str(reason))
        self._changed.set()

    async def connect(
        self,
        url: str,
        token: str | None = "default",
        *,
        path: str = ENGINEIO_PATH,
        transports: list[str] | None = None,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> Client:
        if token == "default":
            token = make_token()
        if auth is None and token is not None:
            auth = {"token": token}
        try:
            await self.sio.connect(
                url + (f"?{query}" if query else ""),
                auth=auth,
                namespaces=[NAMESPACE],
                socketio_path=path,
                transports=transports or ["polling", "websocket"],
                headers=headers or {},
                wait_timeout=5,
            )
        except socketio.exceptions.ConnectionError as exc:
            data = self.connect_error.get("data") if isinstance(self.connect_error, dict) else None
            raise ConnectRefused(str(exc), data) from None
        return self

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid(NAMESPACE)  # type: ignore[no-any-return]

    async def call(self, event: str, *args: Any, timeout: float = 5) -> Any:
        return await self.sio.call(
            event, args[0] if len(args) == 1 else tuple(args), namespace=NAMESPACE, timeout=timeout
        )

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, args[0] if len(args) == 1 else tuple(args), namespace=NAMESPACE)

    async def subscribe(self, room: str, **extra: Any) -> dict[str, Any]:
        ack = await self.call("subscribe", {"room": room, **extra})
        assert ack["status"] == "success", ack
        return ack  # type: ignore[no-any-return]

    def received(self, event: str, predicate: Predicate | None = None) -> list[Any]:
        return [
            data for name, data in self.events if name == event and (predicate is None or predicate(data))
        ]

    async def wait_for(self, event: str, predicate: Predicate | None = None, timeout: float = 5) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(event, predicate)
            if found:
                return found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = [name for name, _ in self.events]
                raise AssertionError(f"no {event!r} within {timeout}s; received {names}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_count(self, event: str, count: int, timeout: float = 10) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(found := self.received(event)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} {event!r} events within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.2)
        return found

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        if self._session is not None:
            await self._session.close()
