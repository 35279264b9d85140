"""Reference: the floor for Python, one asyncio Protocol per connection and nothing else.

A raw `asyncio.Protocol` on uvloop that answers the HTTP upgrade, frames and
unframes WebSocket messages itself and speaks just enough Engine.IO v4 /
Socket.IO v5 for the load generator (handshake, namespace CONNECT, `subscribe`
with ack, one global ping loop). Per connection it holds the transport, a
receive buffer and a slotted protocol object: no Task, no queue, no parser
object, no handshake request kept. The 101 response and the Engine.IO OPEN
packet go out in one write. No authentication, like the other references.
What it reaches on this machine is the most any Python server here could:
the floor the issue's targets are judged against. The control port is
trigger.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import re
from typing import Any

import uvloop

from bench.servers.trigger import Trigger, control_handler, paced, reference_event

PREFIX = "/ws,"
PING_INTERVAL = 25
HANDSHAKE = '0{"sid":"%s","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1000000}'
EVENT = re.compile(r"(\d*)(\[.*)", re.DOTALL)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = re.compile(rb"\r\nsec-websocket-key:[ \t]*([A-Za-z0-9+/=]+)", re.IGNORECASE)
MAX_HEAD = 8192
MAX_FRAME = 1_000_000

rooms: dict[str, set[Conn]] = {}
everyone: set[Conn] = set()
sids = itertools.count(1)


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def unmask(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class Conn(asyncio.Protocol):
    __slots__ = ("buffer", "joined", "sid", "transport", "upgraded")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.sid = ""
        self.joined: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        everyone.discard(self)
        for room in self.joined:
            rooms[room].discard(self)
        self.transport = None

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def send(self, text: str) -> None:
        self.write(frame(text.encode()))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded and not self._upgrade():
            return
        self._frames()

    def _upgrade(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self._abort()
            return False
        match = KEY.search(self.buffer, 0, end + 2)
        if match is None:
            self.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self._abort()
            return False
        accept = base64.b64encode(hashlib.sha1(match[1] + GUID).digest())  # noqa: S324 - RFC 6455
        self.buffer = self.buffer[end + 4 :]
        self.upgraded = True
        self.sid = f"s{next(sids)}"
        everyone.add(self)
        self.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + frame((HANDSHAKE % self.sid).encode())
        )
        return True

    def _frames(self) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            opcode, length, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, at = int.from_bytes(buf[2:10], "big"), 10
            if length > MAX_FRAME:
                self._abort()
                return
            masked = buf[1] & 0x80
            end = at + (4 if masked else 0) + length
            if len(buf) < end:
                break
            payload = buf[at + 4 : end] if masked else buf[at:end]
            if masked:
                payload = unmask(payload, buf[at : at + 4])
            buf = buf[end:]
            if opcode == 0x1:
                self._message(payload.decode("utf-8", "replace"))
            elif opcode == 0x8:  # close: answer it, then the TCP connection goes
                self.write(frame(payload[:2], 0x8))
                if self.transport is not None:
                    self.transport.close()
                buf = b""
                break
            elif opcode == 0x9:
                self.write(frame(payload, 0xA))
        self.buffer = buf

    def _message(self, message: str) -> None:
        if message.startswith("40" + PREFIX):
            self.send(f'40{PREFIX}{{"sid":"{self.sid}"}}')
        elif message.startswith("42" + PREFIX):
            self._event(message[len(PREFIX) + 2 :])

    def _event(self, text: str) -> None:
        match = EVENT.fullmatch(text)
        if match is None:
            return
        ack_id, body = match.groups()
        with contextlib.suppress(ValueError, IndexError, TypeError):
            data = json.loads(body)
            if data[0] == "subscribe" and isinstance(data[1], dict) and isinstance(data[1].get("room"), str):
                room = data[1]["room"]
                rooms.setdefault(room, set()).add(self)
                self.joined.append(room)
                if ack_id:
                    self.send(f"43{PREFIX}{ack_id}" + json.dumps([{"status": "success", "room": room}]))

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def pinger() -> None:
    ping = frame(b"2")
    while True:
        await asyncio.sleep(PING_INTERVAL)
        for conn in list(everyone):
            conn.write(ping)


async def send_events(trigger: Trigger) -> dict[str, Any]:
    padding = "x" * trigger.pad

    async def emit(i: int) -> None:
        text = f"42{PREFIX}" + json.dumps(["workflow.progress", reference_event(trigger.room, i, padding)])
        data = frame(text.encode())
        for conn in list(rooms.get(trigger.room, ())):
            conn.write(data)

    elapsed = await paced(trigger.n, trigger.rate, emit)
    return {"sent": trigger.n, "failed": 0, "elapsed_ms": elapsed}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    control_server = await asyncio.start_server(control_handler(send_events), "127.0.0.1", args.control_port)
    server = await loop.create_server(Conn, "127.0.0.1", args.port, backlog=2048)
    ping_task = asyncio.create_task(pinger())
    async with control_server, server:
        await server.serve_forever()
    ping_task.cancel()


if __name__ == "__main__":
    uvloop.run(main())
