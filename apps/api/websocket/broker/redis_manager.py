"""python-socketio's Redis manager, partitioned by room and watching its own connections.

Changes to `socketio.AsyncRedisManager`, all through its hooks (named in
websocket/internals/pubsub_manager.py, which is where python-socketio's
private names are):

* Partitioned fan-out: a room's events travel on the room's own channel
  (`connection.room_channel`), and this instance listens to a room's channel
  only while it has a local member there (`subscriber.Subscriber`): the first
  local member's `enter_room` returns once Redis confirmed the subscription,
  so the history read that follows a subscribe misses nothing; the last one
  to leave unsubscribes. Everything else (revocations, the shutdown barrier,
  python-socketio's own messages) goes on the control channel, which every
  instance listens to. So an instance reads the events its clients need,
  not every event of the deployment.
* `publish_message` is bounded and raises (see `connection.RedisPublisher`).
* Liveness: each pub/sub connection PINGs itself every `canary_interval`
  seconds; one that hears nothing for three intervals is deaf: the manager
  logs `redis_subscription_deaf` at error level and subscribes again on new
  connections. The publisher PINGs on its own connection as often. No
  message crosses instances for it (the canary published on the shared
  channel used to cost N² messages per interval).
* Every message is checked before python-socketio acts on it: the channels
  are shared with anything that can PUBLISH, so a malformed or foreign
  message is logged and dropped instead of reaching handler code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from logging_setup import get_logger
from websocket.broker.connection import RedisPublisher
from websocket.broker.messages import CANARY, validate
from websocket.broker.subscriber import ChannelMoved, DeafSubscription, Subscriber
from websocket.internals.pubsub_manager import PubSubManagerBase
from websocket.protocol import jsonlib

log = get_logger("websocket.broker")

MAX_BACKOFF = 5.0
ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]
SubscribedHook = Callable[[], Awaitable[None]]


class RedisManager(PubSubManagerBase):
    def __init__(self, url: str, channel: str, *, publish_timeout: float, canary_interval: float) -> None:
        super().__init__(url, channel, json=jsonlib)
        self.publisher = RedisPublisher(
            url, channel, publish_timeout, name=f"eventserver-{self.instance_id[:8]}"
        )
        self.subscriber = Subscriber(self.publisher, f"{self.publisher.name}-sub", canary_interval)
        self.canary_interval = canary_interval
        self.subscription = "starting"
        self.resubscribes = 0
        self.dropped_messages = 0
        self.unconfirmed = 0  # first joins whose subscription Redis did not confirm in time
        self._control: dict[str, ControlHandler] = {}
        self._on_subscribed: list[SubscribedHook] = []
        self._hook_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._hooks_again = False

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Subscribe now rather than at the first client connection, as stock does."""
        self.start_listening()
        self._ping_task = asyncio.create_task(self._ping_publisher())

    async def stop(self) -> None:
        for task in (self._ping_task, self._hook_task, self.listener()):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.subscriber.close()
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
            "last_canary_age_s": round(self.subscriber.silence(), 2),
            "resubscribes": self.resubscribes,
            "dropped_messages": self.dropped_messages,
            "cluster": bool(self.publisher.cluster),
            "channels": self.subscriber.count(),
            "pubsub_connections": self.subscriber.connections(),
            "unconfirmed_subscriptions": self.unconfirmed,
        }

    def state(self) -> str:
        return "ok" if self.subscription == "ok" and self.publisher.healthy else "down"

    # -- rooms: listen to a room's channel while a local member is there ------
    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if not isinstance(room, str) or room == sid or sid not in self.rooms.get(namespace, {}).get(room, ()):
            return  # a sid's own room, or a member of another instance
        if not await self.subscriber.add(self.publisher.room_channel(room)):
            self.unconfirmed += 1
            log.warning("room_subscription_unconfirmed", room=room[:200])

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        self._left(sid, room)

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        rooms = self.get_rooms(sid, namespace)
        super().basic_disconnect(sid, namespace, **kwargs)
        for room in rooms:
            self._left(sid, room)

    def basic_close_room(self, room: str, namespace: str) -> None:
        super().basic_close_room(room, namespace)
        self._left("", room)

    def _left(self, sid: str, room: Any) -> None:
        if not isinstance(room, str) or room == sid:
            return
        if not any(room in rooms for rooms in self.rooms.values()):
            self.subscriber.discard(self.publisher.room_channel(room))

    # -- python-socketio's hooks (websocket/internals/pubsub_manager.py) ----------
    async def publish_message(self, message: dict[str, Any]) -> None:
        channel = self.publisher.channel
        room = message.get("room")
        if message.get("method") == "emit" and isinstance(room, str):
            channel = self.publisher.room_channel(room)
            if self.is_connected(room, message.get("namespace") or "/"):
                return  # a sid of this instance: python-socketio has delivered it already
        await self.publisher.publish_to(channel, jsonlib.dumpb(message))

    async def on_emit_message(self, message: dict[str, Any]) -> None:
        if message.get("callback") or message.get("binary"):
            await super().on_emit_message(message)
            return
        self._deliver(message)

    def _plain(self, message: dict[str, Any]) -> bool:
        """An emit python-socketio would pass to `on_emit_message` as is: another host's, no ack or binary."""
        return (
            not message.get("callback")
            and not message.get("binary")
            and message["host_id"] != self.instance_id
        )

    def _deliver(self, message: dict[str, Any]) -> None:
        data = message["data"]
        args = data[0] if len(data) == 1 else tuple(data)
        namespace = message.get("namespace") or "/"
        room = message.get("room")
        try:
            if isinstance(args, dict) and isinstance(room, str) and not message.get("skip_sid"):
                # An envelope to a room, the common case: encoded once, and only when the room has
                # a member here, then packed by formatting as a local publish is (deliver_json).
                # python-socketio would walk the envelope for binary parts and encode it again.
                if self.rooms.get(namespace, {}).get(room):
                    envelope = jsonlib.dumpb(args)
                    self.deliver_json(message["event"], envelope, namespace, room, args.get("offset"))
                return
            self.deliver(message["event"], args, namespace, room, message.get("skip_sid"))
        except Exception:  # as python-socketio's listener does: one bad message stops nothing
            log.exception("pubsub_emit_failed", room=str(message.get("room"))[:200])

    async def received_messages(self) -> AsyncIterator[dict[str, Any]]:
        backoff = 0.5
        while True:
            try:
                await self.subscriber.open()
                self._subscribed()
                backoff = 0.5
                self._start_subscribed_hooks()
                async for batch in self.subscriber.batches():
                    for _channel, data in batch:
                        message = self._decode(data)
                        if message is None:
                            continue
                        method = message["method"]
                        if method == "emit" and self._plain(message):
                            self._deliver(message)  # the common case, without python-socketio's dispatch
                        elif method == CANARY:
                            continue  # an older instance's canary on the control channel
                        elif method in self._control:
                            await self._dispatch_control(method, message)
                        else:
                            yield message
            except asyncio.CancelledError:
                raise
            except DeafSubscription as exc:
                self.subscription = "deaf"
                # The path to Redis that went silent is likely the publisher's too: it starts
                # over on fresh connections rather than find out on the next event.
                await self.publisher.aclose()
                log.error(
                    "redis_subscription_deaf",
                    channel=self.publisher.channel,
                    node=str(exc),
                    silent_for_s=round(self.subscriber.silence(), 2),
                    action="resubscribing on a new connection",
                )
            except ChannelMoved as exc:
                # A failover or a resharding moved a slot away from the node we listened on.
                log.warning("redis_channel_moved", channel=str(exc), action="subscribing on its new owner")
                self.subscription = "moved"
                await self.subscriber.close()
                await asyncio.sleep(0.05)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if self.subscription not in ("down", "moved"):
                    log.error("redis_subscription_lost", channel=self.publisher.channel, error=error)
                else:
                    log.info("redis_subscribe_retry", channel=self.publisher.channel, error=error)
                self.subscription = "down"
                await self.subscriber.close()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                await self.subscriber.close()

    # -- internals -----------------------------------------------------------
    def _subscribed(self) -> None:
        if self.subscription != "starting":
            self.resubscribes += 1
            log.warning(
                "redis_subscription_restored", channel=self.publisher.channel, resubscribes=self.resubscribes
            )
        else:
            log.info("redis_subscribed", channel=self.publisher.channel, cluster=bool(self.publisher.cluster))
        self.subscription = "ok"

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

    async def _ping_publisher(self) -> None:
        # The publisher's connection is checked like the subscriber's, by itself:
        # a dead one is noticed (and replaced) before an event needs it.
        while True:
            with contextlib.suppress(Exception):  # the publisher logs a failure and a recovery
                await self.publisher.run(lambda pipe: pipe.ping())
            await asyncio.sleep(self.canary_interval)
