"""The stateful parts, chosen by one setting: in memory, or shared through Redis.

Like encode/broadcaster's backends, one URL (`REDIS_URL`) decides: empty means
one instance holding everything in memory; a Redis URL means every instance
and publisher shares fan-out, history and presence through that Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config import Settings
from logging_setup import get_logger
from websocket.broker.connection import PublishError
from websocket.broker.local_manager import LocalManager
from websocket.broker.redis_manager import RedisManager
from websocket.broker.revocations import RedisRevocations
from websocket.broker.transport import LocalTransport, RedisTransport
from websocket.history.in_memory import MemoryHistory
from websocket.history.in_redis import RedisHistory
from websocket.history.positions import History
from websocket.presence.counts import AgentGone, Presence
from websocket.presence.in_memory import MemoryPresence
from websocket.presence.in_redis import RedisPresence
from websocket.server.revoker import Revoker

log = get_logger("websocket.server.backends")


@dataclass
class Backends:
    manager: LocalManager | RedisManager
    transport: LocalTransport | RedisTransport
    history: History
    presence: Presence
    revocations: RedisRevocations | None = None

    @property
    def redis(self) -> RedisManager | None:
        return self.manager if isinstance(self.manager, RedisManager) else None

    def state(self) -> str:
        return self.redis.state() if self.redis else "disabled"

    def health(self) -> dict[str, Any] | None:
        return self.redis.health() if self.redis else None

    async def start(self, on_agent_gone: AgentGone, revoker: Revoker | None = None) -> None:
        if self.redis:
            if self.revocations is not None and revoker is not None:
                self.redis.on_subscribed(lambda: self._load_revocations(revoker))
            self.redis.start()
            # Before the first client: the subscription's own load may come later.
            await self._load_revocations(revoker)
        await self.presence.start(on_agent_gone)

    async def _load_revocations(self, revoker: Revoker | None) -> None:
        if self.revocations is None or revoker is None:
            return
        try:
            await revoker.catch_up(self.revocations.pages())
        except PublishError as exc:  # Redis down: the load after the subscription returns retries
            log.warning("revocations_not_loaded", error=str(exc))

    async def stop(self) -> None:
        await self.presence.stop()
        if self.redis:
            await self.redis.stop()


def build_backends(settings: Settings) -> Backends:
    if not settings.redis_url:
        manager = LocalManager()
        history = MemoryHistory(settings.history_size, settings.history_ttl, settings.history_meta_ttl)
        return Backends(manager, LocalTransport(manager, history), history, MemoryPresence())
    redis_manager = RedisManager(
        settings.redis_url,
        settings.socketio_channel,
        publish_timeout=settings.broadcast_timeout,
        canary_interval=settings.redis_canary_interval,
    )
    publisher = redis_manager.publisher
    redis_history = RedisHistory(
        publisher,
        settings.redis_key_prefix,
        settings.history_size,
        settings.history_ttl,
        settings.history_meta_ttl,
    )
    presence = RedisPresence(
        publisher, settings.redis_key_prefix, redis_manager.instance_id, settings.presence_heartbeat
    )
    revocations = RedisRevocations(publisher, settings.redis_key_prefix, settings.jwt_max_lifetime)
    transport = RedisTransport(
        publisher, redis_history, origin=f"broadcaster-{redis_manager.instance_id}", revocations=revocations
    )
    return Backends(redis_manager, transport, redis_history, presence, revocations)
