"""The single-instance client manager: fan-out and control messages inside this process.

python-socketio's `AsyncManager` with the Task-free fan-out and O(own rooms)
disconnect of `websocket.internals.manager.FastManagerMixin`; control
messages (revocations, the shutdown barrier) are handed to their handlers
here rather than published, the same interface as `RedisManager`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from websocket.internals.manager import FastManagerMixin

ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]


class LocalManager(FastManagerMixin, socketio.AsyncManager):  # type: ignore[misc]
    """Single-instance manager: all state in this process's memory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._control: dict[str, ControlHandler] = {}

    def on_control(self, method: str, handler: ControlHandler) -> None:
        """Same hook as `RedisManager.on_control`: this server's own message kinds."""
        self._control[method] = handler

    async def dispatch_control(self, message: dict[str, Any]) -> bool:
        """Hand a control message to its handler in this process; False when none is registered."""
        handler = self._control.get(message.get("method", ""))
        if handler is None:
            return False
        await handler(message)
        return True

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> Any:
        if callback is not None:  # per-recipient ack ids: keep the stock path
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to
            )
        return await self.local_emit(event, data, namespace, to or room, skip_sid)
