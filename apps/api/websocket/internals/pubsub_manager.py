"""python-socketio's Redis manager, its private hooks handed to methods with public names.

python-socketio's `AsyncPubSubManager` is extended through two private hooks,
`_publish(message)` and `_listen()`, and acts on each message it hears (and on
each `emit` of this instance) through `_handle_emit`. `RedisManager`
(websocket/broker/redis_manager.py) holds the logic; this base is the one
place that names python-socketio's internals:

    python-socketio 5.18                           here
    _publish(message)                              publish_message(message)
    _listen() (async iterator of messages)         received_messages()
    _handle_emit(message)                          on_emit_message(message) (default: stock)
    host_id (messages carrying it are skipped)     instance_id
    initialize(), at the first Engine.IO connect   start_listening()
    thread (the listener task)                     listener()

It also mixes in the Task-free fan-out of manager.py. Each name is pinned in
tests/websocket/internals/test_library_internals.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import socketio

from websocket.internals.manager import FastManagerMixin


class PubSubManagerBase(FastManagerMixin, socketio.AsyncRedisManager):  # type: ignore[misc]
    host_id: str
    server: Any

    def __init__(self, url: str, channel: str, *, json: Any) -> None:
        super().__init__(url=url, channel=channel, write_only=False, json=json)

    @property
    def instance_id(self) -> str:
        """This instance's id on the channel; python-socketio ignores messages that carry it."""
        return self.host_id

    def start_listening(self) -> None:
        """Subscribe now rather than at the first client connection, as stock does."""
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()  # starts python-socketio's listener task, which iterates _listen()

    def listener(self) -> asyncio.Task[None] | None:
        """python-socketio's listener task (None before `start_listening`)."""
        task: asyncio.Task[None] | None = getattr(self, "thread", None)
        return task

    # -- python-socketio's private hooks -> public names ----------------------
    async def _publish(self, data: Any) -> None:
        await self.publish_message(data)

    def _listen(self) -> AsyncIterator[dict[str, Any]]:
        return self.received_messages()

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        await self.on_emit_message(message)

    # -- what a subclass implements --------------------------------------------
    async def publish_message(self, message: dict[str, Any]) -> None:
        """Send one of python-socketio's messages (a dict) to every instance on the channel."""
        raise NotImplementedError

    def received_messages(self) -> AsyncIterator[dict[str, Any]]:
        """The channel's messages, decoded, for as long as this instance listens."""
        raise NotImplementedError

    async def on_emit_message(self, message: dict[str, Any]) -> None:
        """An `emit` message (this instance's own, or heard on the channel): deliver it here."""
        await super()._handle_emit(message)
