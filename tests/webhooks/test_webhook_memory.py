"""POST /webhooks/github in bounded memory: a forged delivery costs the server almost nothing.

The server runs as a child process so that its peak resident memory (VmHWM in
/proc/<pid>/status) is its own; the figure is the growth of that peak across
one request, after a warm-up that loads every code path of the webhook.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Client
from tests.support.github import PROJECT_ROOM, fixture, signed_headers
from tests.support.net import eventually
from tests.support.servers import LiveServer, ServerProcess, running
from tests.support.tokens import token

MIB = 1024 * 1024
BIG = 24 * MIB
# Reading the whole body before the HMAC (and joining its chunks) grew the peak by 44 MiB
# here; streaming it through the HMAC into a 512 KiB spool grows it by about 0.05 MiB.
MAX_PEAK_GROWTH = 4 * MIB

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")


def peak_rss(pid: int) -> int:
    """The process's peak resident set size so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def forged_headers(body: bytes) -> dict[str, str]:
    """Well-formed headers whose signature is not the body's: the server must read it all to know."""
    return signed_headers("issues", body, secret="not-the-secret")


def padded_delivery(size: int) -> bytes:
    """A real `issues` delivery, padded to `size` bytes with a field the mapping ignores."""
    payload = fixture("issues", "opened")
    payload["issue"]["title"] = f"large delivery {uuid.uuid4()}"
    payload["padding"] = ""
    overhead = len(json.dumps(payload).encode())
    payload["padding"] = "x" * (size - overhead)
    return json.dumps(payload).encode()


@pytest.fixture
async def child() -> AsyncIterator[ServerProcess]:
    async with running(ServerProcess()) as server:
        yield server


async def test_a_forged_24_mib_delivery_barely_moves_peak_memory(child: ServerProcess) -> None:
    assert child.proc is not None
    async with httpx.AsyncClient(base_url=child.url, timeout=60) as http:
        # Warm-up: every path a forged delivery takes, and a spool that reaches the disk.
        warm = padded_delivery(2 * MIB)
        for headers in (forged_headers(warm), signed_headers("issues", b"{}")):
            await http.post("/webhooks/github", content=warm, headers=headers)
        before = peak_rss(child.proc.pid)

        body = padded_delivery(BIG)
        response = await http.post("/webhooks/github", content=body, headers=forged_headers(body))
        after = peak_rss(child.proc.pid)

        assert response.status_code == 401
        assert response.json()["detail"]["code"] == "INVALID_SIGNATURE"
        assert after - before <= MAX_PEAK_GROWTH, f"peak RSS grew by {(after - before) / MIB:.1f} MiB"

        # Without a signature at all: refused from the headers, nothing read.
        unsigned = {k: v for k, v in forged_headers(body).items() if k != "X-Hub-Signature-256"}
        response = await http.post("/webhooks/github", content=body, headers=unsigned)
        assert response.status_code == 401
        assert peak_rss(child.proc.pid) - before <= MAX_PEAK_GROWTH


async def test_a_signed_24_mib_delivery_is_still_broadcast(child: ServerProcess) -> None:
    watcher = await Client().connect(child.url, token("watcher", scopes=["projects:read"]))
    try:
        await watcher.subscribe(PROJECT_ROOM)
        body = padded_delivery(BIG)
        async with httpx.AsyncClient(base_url=child.url, timeout=60) as http:
            response = await http.post(
                "/webhooks/github", content=body, headers=signed_headers("issues", body)
            )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "broadcast"
        event = await watcher.wait_for("issue.created")
        assert event["id"] == response.json()["event_id"]
        assert event["data"]["title"].startswith("large delivery ")
    finally:
        await watcher.close()


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha1=" + "a" * 40, "sha256=" + "Z" * 64])
async def test_a_delivery_without_a_usable_signature_is_refused_before_its_body_is_read(
    server: LiveServer, signature: str | None
) -> None:
    """Headers announce 24 MiB, 1 KiB follows, then nothing: the answer must not wait for the rest."""
    head = [
        "POST /webhooks/github HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Content-Type: application/json",
        f"Content-Length: {BIG}",
        "X-GitHub-Event: issues",
        f"X-GitHub-Delivery: {uuid.uuid4()}",
    ]
    if signature is not None:
        head.append(f"X-Hub-Signature-256: {signature}")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"{" + b" " * 1023)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert status_line.split()[1] == b"401", status_line
        await asyncio.wait_for(reader.readuntil(b'"INVALID_SIGNATURE"'), 5)
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/webhooks/github", "/api/events"])
async def test_a_body_cut_short_is_a_refusal_not_a_server_error(child: ServerProcess, path: str) -> None:
    """The client announces 100 KB, sends 10 bytes and hangs up: its doing, so no error line."""
    headers = signed_headers("issues", b"{}") | {
        "Authorization": f"Bearer {token('svc', role='service')}",
        "Content-Length": "100000",
    }
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{child.port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    _, writer = await asyncio.open_connection("127.0.0.1", child.port)
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"{" * 10)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await eventually(lambda: "request_body_incomplete" in child.log(), timeout=5)
    await child.stop()  # every line of that request written
    assert child.trouble() == []
