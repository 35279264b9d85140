"""A pub/sub connection to one Redis node that reads in batches.

redis-py's asyncio pub/sub reads one message per `get_message()` call through
its general RESP parser (pure Python without hiredis): about 60 µs per
message on this machine, the largest part of an instance's cost per event.
Pub/sub traffic needs a small part of RESP: arrays of bulk strings and
integers. This link reads whatever the socket has (up to 256 KiB at once) and
parses every complete frame in it, so a burst costs one read and one loop.
It speaks RESP2 (what every Redis answers by default), authenticates with
the URL's credentials and names itself, like redis-py's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

READ_SIZE = 256 * 1024
Frame = Any  # bytes | int | list[Frame] | RespError | None


class RespError(Exception):
    """An error reply (`-ERR ...`, `-MOVED ...`)."""


_INCOMPLETE = object()


def encode(*args: str | bytes | int) -> bytes:
    """A command in RESP (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


def _parse(buf: bytes, pos: int) -> tuple[Frame, int]:
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return _INCOMPLETE, pos
    kind = buf[pos]
    if kind == 36:  # $ bulk string
        size = int(buf[pos + 1 : end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buf) < stop + 2:
            return _INCOMPLETE, pos
        return buf[end + 2 : stop], stop + 2
    if kind in (42, 62):  # * array, > push (RESP3)
        count = int(buf[pos + 1 : end])
        items: list[Frame] = []
        at = end + 2
        for _ in range(max(count, 0)):
            item, at = _parse(buf, at)
            if item is _INCOMPLETE:
                return _INCOMPLETE, pos
            items.append(item)
        return (items if count >= 0 else None), at
    if kind == 58:  # : integer
        return int(buf[pos + 1 : end]), end + 2
    if kind == 43:  # + simple string
        return buf[pos + 1 : end], end + 2
    if kind == 45:  # - error
        return RespError(buf[pos + 1 : end].decode(errors="replace")), end + 2
    raise ConnectionError(f"unexpected RESP type byte {kind!r}")


def parse_all(buf: bytes) -> tuple[list[Frame], int]:
    """Every complete frame in `buf`, and how many bytes they took."""
    frames: list[Frame] = []
    pos = 0
    size = len(buf)
    while pos < size:
        frame, after = _parse(buf, pos)
        if frame is _INCOMPLETE:
            break
        frames.append(frame)
        pos = after
    return frames, pos


class Link:
    """One connection in pub/sub mode to `host:port` (or a unix socket)."""

    def __init__(self, url: str, host: str | None = None, port: int | None = None) -> None:
        parsed = urlparse(url)
        self.query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        self.tls = parsed.scheme == "rediss"
        self.path = parsed.path if parsed.scheme == "unix" else None
        self.host = host or parsed.hostname or "localhost"
        self.port = port or parsed.port or 6379
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.last_heard = time.monotonic()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = b""

    @property
    def node(self) -> tuple[str, int]:
        return (self.host, self.port)

    async def open(self, bound: float, name: str) -> None:
        if self.path:
            opening = asyncio.open_unix_connection(self.path)
        else:
            context = self._tls_context() if self.tls else None
            opening = asyncio.open_connection(self.host, self.port, ssl=context)
        self._reader, writer = await asyncio.wait_for(opening, bound)
        self._writer = writer
        hello: list[bytes] = []
        if self.password is not None:
            auth = (self.username, self.password) if self.username else (self.password,)
            hello.append(encode("AUTH", *auth))
        hello.append(encode("CLIENT", "SETNAME", name))
        writer.write(b"".join(hello))
        for _ in hello:
            reply = await asyncio.wait_for(self._next(), bound)
            if isinstance(reply, RespError):
                raise reply

    def _tls_context(self) -> ssl.SSLContext:
        """The TLS options redis-py reads from a `rediss://` URL's query, for the same URL."""
        context = ssl.create_default_context(cafile=self.query.get("ssl_ca_certs"))
        if "ssl_certfile" in self.query:
            context.load_cert_chain(self.query["ssl_certfile"], self.query.get("ssl_keyfile"))
        if self.query.get("ssl_cert_reqs", "required").lower() in ("none", "cert_none"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.query.get("ssl_check_hostname", "").lower() in ("false", "0", "no"):
            context.check_hostname = False
        return context

    async def _next(self) -> Frame:
        while True:
            if self._buffer:
                frame, after = _parse(self._buffer, 0)
                if frame is not _INCOMPLETE:
                    self._buffer = self._buffer[after:]
                    return frame
            await self._fill()

    async def _fill(self) -> None:
        assert self._reader is not None
        data = await self._reader.read(READ_SIZE)
        if not data:
            raise ConnectionError("connection closed by server")
        self.last_heard = time.monotonic()
        self._buffer = self._buffer + data if self._buffer else data

    def send(self, *args: str | bytes | int) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ConnectionError("link closed")
        self._writer.write(encode(*args))

    async def frames(self) -> list[Frame]:
        """The next batch of complete frames (waits for at least one)."""
        while True:
            if self._buffer:
                frames, used = parse_all(self._buffer)
                if frames:
                    self._buffer = self._buffer[used:]
                    return frames
            await self._fill()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
