"""Joining and leaving rooms, resuming from a position, and presence.

Resume, with no duplicate and no gap: live events of the room are parked for
the connection before its history is read; the missed events are sent, marked
`replayed`; then the ack; then the parked events newer than the position the
ack reports. Replay reads history after joining, so nothing published in
between can slip through, and parked events the replay already covered are
dropped by offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.broadcaster import get_broadcaster
from logging_setup import get_logger
from websocket import jsonlib
from websocket.auth import Principal
from websocket.connections import Connection
from websocket.history import History, Position, Recovery
from websocket.models import AgentConnected, AgentDisconnected, SubscribeCommand
from websocket.presence import Presence
from websocket.redis_bus import PublishError
from websocket.rooms import RoomKind, lists_members, parse_room, room_name
from websocket.server import NAMESPACE, EventServer, after_ack

log = get_logger("websocket.subscriptions")
MAX_PRESENCE_USERS = 1000


def _replayed(envelope: bytes) -> bytes:
    """A stored envelope, marked as re-sent: `{"replayed":true,` + the rest."""
    return b'{"replayed":true,' + envelope[1:]


class Subscriptions:
    def __init__(self, sio: EventServer, history: History, presence: Presence) -> None:
        self.sio = sio
        self.manager: Any = sio.manager
        self.history = history
        self.presence = presence

    # -- connection lifecycle ----------------------------------------------
    async def connected(self, conn: Connection) -> None:
        await self.presence.add(conn.user.id, conn.auto_rooms)
        agent = self._agent_id(conn)
        if agent and await self.presence.agent_online(agent):
            await get_broadcaster().publish(AgentConnected(agent_id=agent))
            log.info("agent_online", agent_id=agent)

    async def disconnected(self, conn: Connection, rooms: Iterable[str], reason: str) -> None:
        await self.presence.remove(conn.user.id, rooms)
        agent = self._agent_id(conn)
        if agent and await self.presence.agent_offline(agent):
            await self.agent_gone(agent, reason)

    async def agent_gone(self, agent_id: str, reason: str) -> None:
        await get_broadcaster().publish(AgentDisconnected(agent_id=agent_id, reason=reason))
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
        try:
            recovery = await self.history.since(name, since, full=cmd.replay == "all")
        except PublishError:
            return {"status": "success", "room": name, "position": None, "recovered": False,
                    "replayed": 0, "reason": "history_unavailable"}  # fmt: skip
        for stored in recovery.events:
            self.manager.deliver(
                stored.type, jsonlib.Fragment(_replayed(stored.envelope)), NAMESPACE, conn.sid
            )
        self._log_recovery(name, since, recovery)
        ack = {
            "status": "success",
            "room": name,
            "position": recovery.position.to_wire(),
            "recovered": recovery.recovered,
            "replayed": len(recovery.events),
        }
        return ack if recovery.reason is None else {**ack, "reason": recovery.reason}

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
