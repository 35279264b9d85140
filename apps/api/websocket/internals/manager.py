"""python-socketio's client managers, with three costs taken out of the hot paths.

* Fan-out: stock `AsyncManager.emit` encodes a broadcast once but then creates
  one asyncio Task per recipient. A put on an Engine.IO outgoing queue never
  waits (a queue over its byte ceiling drops its connection instead, see
  packet_queue.py), so putting the packets on each recipient's queue in a
  plain loop delivers them in the same order without a Task (and its
  garbage) per recipient, and without yielding to the event loop in the
  middle. The packets are `SizedPacket`s, sized once per broadcast.
* Disconnect: stock `basic_disconnect` scans every room of the namespace to
  find the client's rooms, so mass disconnects are O(clients x rooms): with
  10,000 clients leaving at once that blocks the event loop for about 15 s
  (66 s at 20,000), long enough for everyone else's pings to time out. A
  reverse index (sid -> rooms) makes leaving cost the client's own rooms.
* Pending connects and disconnects: stock keeps them in lists, so every
  `is_connected()` and every removal is a linear scan of the clients that are
  connecting or disconnecting at that moment: quadratic when thousands come
  or go together. Sets answer the same questions in constant time.

* The event itself (issue 18): `deliver_json` takes an envelope that is JSON
  already, writes its Socket.IO packet by formatting (packets.py) rather
  than through python-socketio's `Packet`, and only when the room has a
  member on this instance: a room nobody here joined costs a dict lookup.
  The packet is made once per room and shared by every recipient, and its
  WebSocket frame is written straight to each recipient's transport through
  the connection's lane (frame_lane.FrameLane) whenever the connection's own
  writer would have written it at once: one flag and one `is_closing()` per
  recipient instead of a put, an offer and five objects' state.

All three override the manager's hooks (`basic_enter_room`, `basic_leave_room`,
`basic_disconnect`, `get_rooms`, the `pending_*` lists), so the local and the
Redis manager (websocket/broker/) get them by mixing in the same class.
"""

from __future__ import annotations

from typing import Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from websocket.internals.packet_queue import SizedPacket
from websocket.internals.packets import EventPacket, event_packet

RoomKey = tuple[str, str]  # (namespace, sid)


class _SidSet(set[str]):
    """A set that also answers the list method python-socketio calls on it."""

    def append(self, sid: str) -> None:
        self.add(sid)


class _PendingSids(dict[str, _SidSet]):
    """namespace -> sids; python-socketio assigns fresh lists here, which become sets."""

    def __setitem__(self, namespace: str, sids: Any) -> None:
        super().__setitem__(namespace, _SidSet(sids))


class FastManagerMixin:
    """Reverse room index and Task-free fan-out for any python-socketio async manager."""

    rooms: dict[str, dict[Any, Any]]
    server: Any
    callbacks: dict[str, Any]
    pending_connect: dict[str, Any]
    pending_disconnect: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rooms_of: dict[RoomKey, set[Any]] = {}
        self._held: dict[str, dict[str, list[tuple[int | None, list[Any]]]]] = {}
        self.pending_connect = _PendingSids()
        self.pending_disconnect = _PendingSids()

    # -- room bookkeeping -------------------------------------------------
    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # type: ignore[misc]
        self._rooms_of.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        own = self._rooms_of.get((namespace, sid))
        if own is not None:
            own.discard(room)
            if not own:
                del self._rooms_of[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        own = self._rooms_of.pop((namespace, sid), set())
        # Leave the sid's own room and the "everyone" (None) room last, so the
        # client stays addressable until every named room is gone.
        for room in sorted(own, key=lambda r: (r is None or r == sid, str(r))):
            super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        self.callbacks.pop(sid, None)
        self._held.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            waiting = pending.get(namespace)
            if waiting is not None and sid in waiting:
                waiting.remove(sid)
                if not waiting:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    def room_size(self, namespace: str, room: str) -> int:
        return len(self.rooms.get(namespace, {}).get(room, ()))

    # -- fan-out ----------------------------------------------------------
    async def local_emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any,
        skip_sid: Any = None,
        offset: int | None = None,
    ) -> int:
        """Deliver to this instance's participants of `room`; return how many."""
        return self.deliver(event, data, namespace, room, skip_sid, offset)

    def deliver(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any,
        skip_sid: Any = None,
        offset: int | None = None,
    ) -> int:
        """Encode once, then put the packets straight on each recipient's outgoing queue.

        Synchronous on purpose: nothing can interleave between assigning an
        offset and handing the event to every recipient of this instance.
        A connection that is resuming this room (see `hold`) gets the packets
        parked instead, to be released after its replay.
        """
        if namespace not in self.rooms:
            return 0
        if (room is None or isinstance(room, str)) and not self.rooms[namespace].get(room):
            return 0  # nobody here: nothing to encode
        return self._hand_out(self.encode(event, data, namespace), namespace, room, skip_sid, offset)

    def deliver_json(
        self, event: str, argument: bytes, namespace: str, room: str, offset: int | None = None
    ) -> int:
        """`deliver` for an event whose one argument is JSON text already (an envelope).

        The packet is written by formatting, and not at all when `room` has no
        member on this instance.
        """
        if not self.rooms.get(namespace, {}).get(room):
            return 0
        return self._hand_out([event_packet(namespace, event, argument)], namespace, room, None, offset)

    def _hand_out(
        self, packets: list[Any], namespace: str, room: Any, skip_sid: Any, offset: int | None
    ) -> int:
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        sockets = self.server.eio.sockets
        held = self._held
        # A broadcast's one shared packet: its frame can go through a lane (see the module docstring).
        # (Only FastSocket has lanes: with WS_FAST_PATH=false the sockets are python-engineio's own.)
        wire = None
        if len(packets) == 1 and type(packets[0]) is EventPacket and self.server.eio.fast_sockets:
            wire = packets[0].wire
        delivered = 0
        for sid, eio_sid in self.get_participants(namespace, room):  # type: ignore[attr-defined]
            if sid in skip:
                continue
            if held and room in held.get(sid, ()):
                held[sid][room].append((offset, packets))
                continue
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed or socket.closing:
                continue
            lane = socket.lane if wire is not None else None
            if lane is not None and not lane.blocked:
                transport = lane.transport
                if not transport.is_closing():
                    transport.write(wire)
                    delivered += 1
                    continue
            for pkt in packets:
                socket.queue.put_nowait(pkt)
            delivered += 1
        return delivered

    def encode(self, event: str, data: Any, namespace: str) -> list[SizedPacket]:
        """The Engine.IO packets of one event, sized once for every queue they wait in."""
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        return [SizedPacket(eio_packet.MESSAGE, part) for part in encoded]

    def put_packets(self, sid: str, namespace: str, packets: list[Any]) -> bool:
        """Queue encoded packets for one connection of this instance; False when it is gone."""
        eio_sid = self.eio_sid_from_sid(sid, namespace)  # type: ignore[attr-defined]
        socket = self.server.eio.sockets.get(eio_sid)
        if socket is None or socket.closed or socket.closing:
            return False
        for pkt in packets:
            socket.queue.put_nowait(pkt)
        return True

    def hold(self, sid: str, room: str) -> None:
        """Park live events of `room` for `sid` until `release` (used while it resumes)."""
        self._held.setdefault(sid, {})[room] = []

    def release(self, sid: str, room: str, after: int | None, namespace: str = "/") -> int:
        """Send what was parked, skipping events at or before offset `after` (already replayed)."""
        parked = self._held.get(sid, {}).pop(room, [])
        if not self._held.get(sid, True):
            del self._held[sid]
        eio_sid = self.eio_sid_from_sid(sid, namespace)  # type: ignore[attr-defined]
        socket = self.server.eio.sockets.get(eio_sid)
        sent = 0
        for offset, packets in parked:
            if after is not None and offset is not None and offset <= after:
                continue
            if socket is None or socket.closed or socket.closing:
                break
            for pkt in packets:
                socket.queue.put_nowait(pkt)
            sent += 1
        return sent
