"""python-socketio's Redis manager, made to notice when it stops hearing Redis.

Three changes to `socketio.AsyncRedisManager`, all through its hooks (named
in websocket/internals/pubsub_manager.py, which is where python-socketio's private
names are):

* `publish_message` is bounded and raises (see `connection.RedisPublisher`).
* `received_messages` publishes a canary every `canary_interval` seconds and expects it
  back. A subscription that has silently died (half-open TCP, a killed
  pub/sub client, a proxy that stopped forwarding) misses its canaries; after
  three intervals the manager logs `redis_subscription_deaf` at error level
  and subscribes again on a new connection.
* Every message from the channel is checked before python-socketio acts on
  it: the channel is shared with anything that can PUBLISH, so a malformed or
  foreign message is logged and dropped instead of reaching handler code.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from logging_setup import get_logger
from websocket.broker.connection import RedisPublisher, close_quietly, redis_client
from websocket.broker.messages import CANARY, validate
from websocket.internals.pubsub_manager import PubSubManagerBase
from websocket.protocol import jsonlib

log = get_logger("websocket.broker")

MISSED_CANARIES = 3
MAX_BACKOFF = 5.0
ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]
SubscribedHook = Callable[[], Awaitable[None]]


class DeafSubscription(Exception):
    pass


class RedisManager(PubSubManagerBase):
    def __init__(self, url: str, channel: str, *, publish_timeout: float, canary_interval: float) -> None:
        super().__init__(url, channel, json=jsonlib)
        self.publisher = RedisPublisher(
            url, channel, publish_timeout, name=f"eventserver-{self.instance_id[:8]}"
        )
        self.canary_interval = canary_interval
        self.subscription = "starting"
        self.resubscribes = 0
        self.dropped_messages = 0
        self._last_canary = time.monotonic()
        self._canary_task: asyncio.Task[None] | None = None
        self._control: dict[str, ControlHandler] = {}
        self._on_subscribed: list[SubscribedHook] = []
        self._hook_task: asyncio.Task[None] | None = None
        self._hooks_again = False

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Subscribe now rather than at the first client connection, as stock does."""
        self.start_listening()
        self._canary_task = asyncio.create_task(self._canaries())

    async def stop(self) -> None:
        for task in (self._canary_task, self._hook_task, self.listener()):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.publisher.aclose()

    def on_control(self, method: str, handler: ControlHandler) -> None:
        """Handle this server's own message kinds (revocations, presence, ...)."""
        self._control[method] = handler

    def on_subscribed(self, hook: SubscribedHook) -> None:
        """Run `hook` after every successful subscription (the first, and each one restored).

        What was published while this instance did not listen is lost; a hook
        reads back what Redis kept of it (stored revocations).
        """
        self._on_subscribed.append(hook)

    def health(self) -> dict[str, Any]:
        return {
            "subscription": self.subscription,
            "publish": "ok" if self.publisher.healthy else "down",
            "last_canary_age_s": round(time.monotonic() - self._last_canary, 2),
            "resubscribes": self.resubscribes,
            "dropped_messages": self.dropped_messages,
        }

    def state(self) -> str:
        return "ok" if self.subscription == "ok" and self.publisher.healthy else "down"

    # -- python-socketio's hooks (websocket/internals/pubsub_manager.py) ----------
    async def publish_message(self, message: dict[str, Any]) -> None:
        await self.publisher.publish(jsonlib.dumpb(message))

    async def on_emit_message(self, message: dict[str, Any]) -> None:
        if message.get("callback") or message.get("binary"):
            await super().on_emit_message(message)
            return
        data = message["data"]
        args = data[0] if len(data) == 1 else tuple(data)
        offset = args.get("offset") if isinstance(args, dict) else None
        namespace = message.get("namespace") or "/"
        self.deliver(message["event"], args, namespace, message.get("room"), message.get("skip_sid"), offset)

    async def received_messages(self) -> AsyncIterator[dict[str, Any]]:
        backoff = 0.5
        while True:
            client = pubsub = None
            try:
                client = redis_client(
                    self.publisher.url, self.publisher.timeout, f"{self.publisher.name}-sub"
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await asyncio.wait_for(pubsub.subscribe(self.publisher.channel), self.publisher.timeout)
                self._subscribed()
                backoff = 0.5
                self._start_subscribed_hooks()
                async for message in self._messages(pubsub):
                    yield message
            except asyncio.CancelledError:
                raise
            except DeafSubscription:
                self.subscription = "deaf"
                log.error(
                    "redis_subscription_deaf",
                    channel=self.publisher.channel,
                    silent_for_s=round(time.monotonic() - self._last_canary, 2),
                    action="resubscribing on a new connection",
                )
            except Exception as exc:
                if self.subscription != "down":
                    error = f"{type(exc).__name__}: {exc}"
                    log.error("redis_subscription_lost", channel=self.publisher.channel, error=error)
                self.subscription = "down"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                await close_quietly(pubsub)
                await close_quietly(client)

    # -- internals -----------------------------------------------------------
    def _subscribed(self) -> None:
        if self.subscription != "starting":
            self.resubscribes += 1
            log.warning(
                "redis_subscription_restored", channel=self.publisher.channel, resubscribes=self.resubscribes
            )
        else:
            log.info("redis_subscribed", channel=self.publisher.channel)
        self.subscription = "ok"
        self._last_canary = time.monotonic()

    async def _messages(self, pubsub: Any) -> AsyncIterator[dict[str, Any]]:
        deadline = self.canary_interval * MISSED_CANARIES
        while True:
            raw = await pubsub.get_message(timeout=self.canary_interval)
            if time.monotonic() - self._last_canary > deadline:
                raise DeafSubscription
            if raw is None or raw.get("type") != "message":
                continue
            message = self._decode(raw["data"])
            if message is None:
                continue
            method = message["method"]
            if method == CANARY:
                if message.get("host_id") == self.instance_id:
                    self._last_canary = time.monotonic()
            elif method in self._control:
                await self._dispatch_control(method, message)
            else:
                yield message

    def _decode(self, data: Any) -> dict[str, Any] | None:
        message: Any = None
        try:
            message = jsonlib.loads(data)
            problem = validate(message, extra_methods=self._control.keys())
        except (jsonlib.JSONDecodeError, TypeError):
            problem = "not JSON"
        if problem is not None:
            self.dropped_messages += 1
            log.warning(
                "pubsub_message_dropped",
                channel=self.publisher.channel,
                reason=problem,
                size=len(data or b""),
            )
            return None
        assert isinstance(message, dict)
        return message

    def _start_subscribed_hooks(self) -> None:
        # Beside the listener, not in it: a long read (100,000 stored revocations
        # take seconds) must neither hold deliveries back nor look like a deaf
        # subscription. A run still going began before this subscription, so it
        # runs once more when it is done (never cancelled half-way through).
        if not self._on_subscribed:
            return
        if self._hook_task is not None and not self._hook_task.done():
            self._hooks_again = True
            return
        self._hook_task = asyncio.create_task(self._run_subscribed_hooks())

    async def _run_subscribed_hooks(self) -> None:
        again = True
        while again:
            self._hooks_again = False
            for hook in self._on_subscribed:
                try:
                    await hook()
                except Exception:
                    log.exception("redis_subscribed_hook_failed", hook=getattr(hook, "__qualname__", "?"))
            again = self._hooks_again

    async def _dispatch_control(self, method: str, message: dict[str, Any]) -> None:
        try:
            await self._control[method](message)
        except Exception:
            log.exception("pubsub_control_failed", method=method)

    async def _canaries(self) -> None:
        message = jsonlib.dumpb({"method": CANARY, "host_id": self.instance_id})
        while True:
            # A failed publish is logged by the publisher; a missing canary by the listener.
            with contextlib.suppress(Exception):
                await self.publisher.publish(message)
            await asyncio.sleep(self.canary_interval)
