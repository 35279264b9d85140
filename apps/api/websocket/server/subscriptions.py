"""Joining and leaving rooms, resuming from a position, and presence.

Resume, with no duplicate and no gap: live events of the room are parked for
the connection before its history is read; the missed events are sent, marked
`replayed`; then the ack; then the parked events newer than the position the
ack reports. Replay reads history after joining, so nothing published in
between can slip through, and parked events the replay already covered are
dropped by offset.

A replay is sent only if the connection's replay budget covers it
(replay_budget.py) and it fits under the connection's queue ceiling
(`MAX_QUEUED_BYTES`, see slow_consumers.py) beside what already waits;
otherwise the client is subscribed without it, `recovered: false` with reason
`replay_limited`, and reloads the room over REST, as after any gap history
cannot fill. (An error ack instead would leave it unsubscribed, or its helper
holding live events for an answer that never comes, and retrying at once
cannot help.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from logging_setup import get_logger
from websocket import audit
from websocket.access.policy import lists_members
from websocket.access.tokens import Principal
from websocket.broker.connection import PublishError
from websocket.history.positions import History, Position, Recovery
from websocket.internals import sessions
from websocket.limits.replay_budget import ReplayBudget
from websocket.presence.counts import Presence
from websocket.protocol import jsonlib
from websocket.protocol.commands import SubscribeCommand
from websocket.protocol.errors import ErrorCode
from websocket.protocol.event_types import Payload
from websocket.protocol.paths import NAMESPACE
from websocket.protocol.payloads import AgentConnected, AgentDisconnected
from websocket.protocol.rooms import RoomKind, parse_room, room_name
from websocket.server.connections import Connection
from websocket.server.sio import EventServer, after_ack

log = get_logger("websocket.server.subscriptions")
MAX_PRESENCE_USERS = 1000


Publish = Callable[[Payload], Awaitable[object]]


def _replayed(envelope: bytes) -> bytes:
    """A stored envelope, marked as re-sent: `{"replayed":true,` + the rest."""
    return b'{"replayed":true,' + envelope[1:]


class Subscriptions:
    def __init__(
        self,
        sio: EventServer,
        history: History,
        presence: Presence,
        replay_bytes_per_minute: int = 4 * 1024 * 1024,
        *,
        publish: Publish,
    ) -> None:
        """`publish`: how the server announces agents coming and going (the broadcaster's publish)."""
        self.sio = sio
        self.publish = publish
        self.manager: Any = sio.manager
        self.history = history
        self.presence = presence
        self.replay_bytes_per_minute = replay_bytes_per_minute

    # -- connection lifecycle ----------------------------------------------
    async def connected(self, conn: Connection) -> None:
        await self.presence.add(conn.user.id, conn.auto_rooms)
        agent = self._agent_id(conn)
        if agent and await self.presence.agent_online(agent):
            await self.publish(AgentConnected(agent_id=agent))
            log.info("agent_online", agent_id=agent)

    async def disconnected(self, conn: Connection, rooms: Iterable[str], reason: str) -> None:
        await self.presence.remove(conn.user.id, rooms)
        agent = self._agent_id(conn)
        if agent and await self.presence.agent_offline(agent):
            await self.agent_gone(agent, reason)

    async def agent_gone(self, agent_id: str, reason: str) -> None:
        await self.publish(AgentDisconnected(agent_id=agent_id, reason=reason))
        log.info("agent_offline", agent_id=agent_id, reason=reason)

    @staticmethod
    def _agent_id(conn: Connection) -> str | None:
        if conn.user.role != "agent":
            return None
        try:
            return room_name(RoomKind.AGENT, conn.user.id).partition(":")[2]
        except Exception:
            log.warning("agent_id_not_a_uuid", user_id=conn.user.id)
            return None

    def rooms_of(self, sid: str) -> list[str]:
        return [room for room in self.sio.rooms(sid, namespace=NAMESPACE) if room != sid]

    # -- commands --------------------------------------------------------------
    async def join(self, conn: Connection, name: str, cmd: SubscribeCommand) -> dict[str, Any]:
        already = name in self.rooms_of(conn.sid)
        if already and cmd.since is None:
            # Nothing to recover, and holding would drop events already on their way.
            position = await self._position(name)
            return {"status": "success", "room": name, "position": position}
        self.manager.hold(conn.sid, name)
        try:
            if not already:
                await self.sio.enter_room(conn.sid, name, namespace=NAMESPACE)
                await self.presence.add(conn.user.id, [name])
            ack = await self._recover(conn, name, cmd) if cmd.since else await self._start(name)
        except BaseException:
            self.manager.release(conn.sid, name, None, NAMESPACE)
            raise
        top = ack["position"]["offset"] if ack.get("position") else None
        after_ack(lambda: self.manager.release(conn.sid, name, top, NAMESPACE))
        return ack

    async def _position(self, name: str) -> dict[str, Any] | None:
        try:
            return (await self.history.position(name)).to_wire()
        except PublishError:
            return None  # Redis unreachable: subscribed, but no position to report

    async def _start(self, name: str) -> dict[str, Any]:
        return {"status": "success", "room": name, "position": await self._position(name)}

    async def _recover(self, conn: Connection, name: str, cmd: SubscribeCommand) -> dict[str, Any]:
        assert cmd.since is not None
        since = Position(cmd.since.offset, cmd.since.epoch)
        budget = self._budget(conn)
        if budget.in_debt():  # refused whatever it would cost: no need to read history
            return self._limited(conn, name, await self._position(name), "replay budget spent")
        try:
            recovery = await self.history.since(name, since, full=cmd.replay == "all")
        except PublishError:
            return {"status": "success", "room": name, "position": None, "recovered": False,
                    "replayed": 0, "reason": "history_unavailable"}  # fmt: skip
        packets = [
            self.manager.encode(stored.type, jsonlib.Fragment(_replayed(stored.envelope)), NAMESPACE)
            for stored in recovery.events
        ]
        cost = sum(pkt.size for group in packets for pkt in group)
        if not budget.charge(cost):
            return self._limited(conn, name, recovery.position.to_wire(), "replay budget", cost)
        headroom = self._headroom(conn.sid)
        if headroom is not None and cost > headroom:
            return self._limited(conn, name, recovery.position.to_wire(), "queue ceiling", cost)
        for group in packets:
            self.manager.put_packets(conn.sid, NAMESPACE, group)
        self._log_recovery(name, since, recovery)
        ack = {
            "status": "success",
            "room": name,
            "position": recovery.position.to_wire(),
            "recovered": recovery.recovered,
            "replayed": len(recovery.events),
        }
        return ack if recovery.reason is None else {**ack, "reason": recovery.reason}

    def _budget(self, conn: Connection) -> ReplayBudget:
        if conn.replay is None:
            conn.replay = ReplayBudget(self.replay_bytes_per_minute)
        return conn.replay

    def _headroom(self, sid: str) -> int | None:
        """Bytes the connection's outgoing queue can still take (None: unbounded or gone)."""
        socket = self.sio.engineio_session(self.manager.eio_sid_from_sid(sid, NAMESPACE))
        queue = sessions.queue_of(socket) if socket is not None else None
        return queue.headroom() if queue is not None else None

    @staticmethod
    def _limited(
        conn: Connection, name: str, position: dict[str, Any] | None, why: str, cost: int | None = None
    ) -> dict[str, Any]:
        """Subscribed without the replay: the client reloads the room over REST."""
        audit.denied(
            "replay_limited", ErrorCode.RATE_LIMITED, client_addr=conn.client_addr, user_id=conn.user.id,
            connection_id=conn.sid, room=name, reason=why, cost=cost, level="info",
        )  # fmt: skip
        return {"status": "success", "room": name, "position": position, "recovered": False,
                "replayed": 0, "reason": "replay_limited"}  # fmt: skip

    @staticmethod
    def _log_recovery(name: str, since: Position, recovery: Recovery) -> None:
        log.info(
            "room_resumed" if recovery.recovered else "room_not_recovered",
            room=name,
            since=since.offset,
            position=recovery.position.offset,
            replayed=len(recovery.events),
            reason=recovery.reason,
        )

    async def leave(self, conn: Connection, name: str) -> None:
        if name in self.rooms_of(conn.sid):
            await self.sio.leave_room(conn.sid, name, namespace=NAMESPACE)
            await self.presence.remove(conn.user.id, [name])

    async def members(self, name: str, viewer: Principal) -> dict[str, Any]:
        """The `presence` answer for `viewer`: totals always, the user list where `lists_members` allows."""
        users = await self.presence.members(name)
        answer: dict[str, Any] = {"status": "success", "room": name}
        if lists_members(viewer, parse_room(name)):
            ranked = sorted(users.items(), key=lambda item: (-item[1], item[0]))
            answer["users"] = [{"user_id": user, "connections": n} for user, n in ranked[:MAX_PRESENCE_USERS]]
        return {**answer, "total_users": len(users), "total_connections": sum(users.values())}
