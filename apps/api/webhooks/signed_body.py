"""A signed request body, read in bounded memory and handed out only once verified.

Anyone can POST 25 MB to a webhook URL; only the holder of the secret can sign
it. So the signature header is checked for shape before the body is read (a
request without one costs nothing), and the body then streams through the
HMAC into a spool: the first `SPOOL_IN_MEMORY` bytes in memory, the rest in an
anonymous temporary file (unlinked at creation, gone when closed). Nothing
reads the body until the HMAC matched, and it is then held once: in memory
already, or read back from the file in one piece. An unsigned 25 MB POST
costs the spool's memory, 25 MB of page cache for the length of the request,
and the CPU of the HMAC.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO

from fastapi import HTTPException, Request

from routers.body import chunks_within
from webhooks.signature import SIGNATURE_HEADER, matches, new_mac, well_formed

# Typical deliveries (a few KiB to a few hundred) never touch the disk.
SPOOL_IN_MEMORY = 512 * 1024


def invalid_signature() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={
            "code": "INVALID_SIGNATURE",
            "message": f"{SIGNATURE_HEADER} is missing or does not match the body",
        },
    )


@dataclass(frozen=True, slots=True)
class SignedBody:
    body: bytes | bytearray
    # HMAC-SHA256 of the body under the secret (hex): a keyed digest of exactly what
    # GitHub signed, so two deliveries with the same body have the same one.
    digest: str


class _Spool:
    """Bytes in memory up to `in_memory`, then all of them in a temporary file."""

    def __init__(self, in_memory: int) -> None:
        self._in_memory = in_memory
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None

    def write(self, chunk: bytes) -> None:
        if self._file is None and len(self._buffer) + len(chunk) <= self._in_memory:
            self._buffer += chunk
            return
        if self._file is None:
            # Page-cache writes of ~64 KiB chunks take microseconds: not worth a thread hop each.
            self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
            self._file.write(self._buffer)
            self._buffer = bytearray()
        self._file.write(chunk)

    def contents(self) -> bytes | bytearray:
        """Everything written, held once (the in-memory buffer itself, or the file read back)."""
        if self._file is None:
            return self._buffer
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._buffer = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


async def read_signed(request: Request, secret: bytes, limit: int) -> SignedBody:
    """The body once its `X-Hub-Signature-256` matched; 401 or 413 (`PAYLOAD_TOO_LARGE`) otherwise."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not well_formed(header):
        raise invalid_signature()
    mac = new_mac(secret)
    spool = _Spool(SPOOL_IN_MEMORY)
    try:
        async for chunk in chunks_within(request, limit):
            mac.update(chunk)
            spool.write(chunk)
        if not matches(mac, header):
            raise invalid_signature()
        return SignedBody(spool.contents(), mac.hexdigest())
    finally:
        spool.close()
