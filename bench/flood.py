"""A handshake flood from one source address: `python -m bench.flood --url ... --source 127.0.0.2`.

What an attacker with one address and no token does to an Engine.IO
endpoint: open sessions as fast as it can and never join a namespace. Half
the workers send polling handshakes (`GET ...?EIO=4&transport=polling`) on
keep-alive connections; the other half open WebSocket handshakes, each on a
new connection, and hold every accepted one open without a word. Raw asyncio
sockets, so the flooder's own cost per handshake is a few syscalls.

Bounded: it stops after `--seconds` or `--max-handshakes`, whichever comes
first, and holds at most `--max-held` WebSockets (the oldest are closed). The
last line on stdout is a JSON summary: handshakes offered, accepted, refused
by HTTP status, connection errors, and the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Tally:
    offered: int = 0
    accepted: int = 0
    refused: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: int = 0
    held: collections.deque[asyncio.StreamWriter] = field(default_factory=collections.deque)
    held_max: int = 0


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: status, lower-cased headers, body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if status == 101:
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, headers, body
            body += chunk[:-2]
    return status, headers, await reader.readexactly(int(headers.get("content-length", "0")))


class Flood:
    def __init__(self, args: argparse.Namespace) -> None:
        url = urlsplit(args.url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.path = args.path.rstrip("/") + "/"
        self.source = args.source
        self.deadline = time.monotonic() + args.seconds
        self.max_handshakes = args.max_handshakes
        self.max_held = args.max_held
        self.tally = Tally()

    def _go(self) -> bool:
        if time.monotonic() >= self.deadline or self.tally.offered >= self.max_handshakes:
            return False
        self.tally.offered += 1
        return True

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port, local_addr=(self.source, 0))

    async def polling(self) -> None:
        request = (
            f"GET {self.path}?EIO=4&transport=polling HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n"
        ).encode()
        writer: asyncio.StreamWriter | None = None
        while self._go():
            try:
                if writer is None:
                    reader, writer = await self._open()
                writer.write(request)
                status, headers, _ = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.tally.errors += 1
                _close(writer)
                writer = None
                continue
            self._count(status)
            if headers.get("connection", "").lower() == "close":
                _close(writer)
                writer = None
        _close(writer)

    async def websocket(self) -> None:
        while self._go():
            key = base64.b64encode(os.urandom(16)).decode()
            request = (
                f"GET {self.path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
            writer: asyncio.StreamWriter | None = None
            try:
                reader, writer = await self._open()
                writer.write(request)
                status, _, _ = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.tally.errors += 1
                _close(writer)
                continue
            self._count(status)
            if status == 101:  # hold it open, say nothing: a pending session
                self.tally.held.append(writer)
                if len(self.tally.held) > self.max_held:
                    _close(self.tally.held.popleft())
                self.tally.held_max = max(self.tally.held_max, len(self.tally.held))
            else:
                _close(writer)

    def _count(self, status: int) -> None:
        if status in (200, 101):
            self.tally.accepted += 1
        else:
            self.tally.refused[status] += 1

    async def run(self, polling: int, websocket: int) -> dict[str, Any]:
        started = time.monotonic()
        workers = [self.polling() for _ in range(polling)] + [self.websocket() for _ in range(websocket)]
        await asyncio.gather(*workers)
        elapsed = time.monotonic() - started
        for writer in self.tally.held:
            _close(writer)
        tally = self.tally
        return {
            "offered": tally.offered,
            "accepted": tally.accepted,
            "refused": {str(status): n for status, n in sorted(tally.refused.items())},
            "errors": tally.errors,
            "held_max": tally.held_max,
            "seconds": round(elapsed, 3),
            "rate": round(tally.offered / elapsed, 1) if elapsed else 0.0,
        }


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="http://host:port of the server")
    parser.add_argument("--path", default="/ws/socket.io/", help="Engine.IO path (default /ws/socket.io/)")
    parser.add_argument("--source", default="127.0.0.2", help="local address to send from")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-handshakes", type=int, default=200_000)
    parser.add_argument("--max-held", type=int, default=5_000, help="WebSockets held open at most")
    parser.add_argument("--polling", type=int, default=16, help="polling workers")
    parser.add_argument("--websocket", type=int, default=16, help="WebSocket workers")
    return parser.parse_args(argv)


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    summary = await Flood(args).run(args.polling, args.websocket)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
