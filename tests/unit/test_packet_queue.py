"""PacketQueue keeps asyncio.Queue's meaning; WebSocketWriter keeps order under backpressure.

The writer is driven here with an ASGI `send` that can be made to block, the
way uvicorn's does while a client's TCP buffer is full; tests/integration/
test_fastsocket.py does the same against real uvicorn and real clients.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engineio import packet

from websocket.packet_queue import PacketQueue
from websocket.ws_writer import WebSocketWriter


def message(text: str) -> Any:
    return packet.Packet(packet.MESSAGE, data=text)


async def test_fifo_get_and_join_like_asyncio_queue() -> None:
    queue = PacketQueue()
    assert queue.empty() and queue.qsize() == 0
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    await queue.put("a")
    queue.put_nowait("b")
    assert await getter == "a"
    assert queue.qsize() == 1 and queue.get_nowait() == "b"
    joined = asyncio.create_task(queue.join())
    await asyncio.sleep(0)
    assert not joined.done()  # two items taken, none reported done yet
    queue.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many"):
        queue.task_done()


async def test_a_sink_takes_puts_only_while_nothing_waits() -> None:
    queue = PacketQueue()
    taken: list[str] = []
    queue.sink = lambda item: item != "decline" and not taken.append(item)
    queue.put_nowait("x")
    queue.put_nowait("decline")
    queue.put_nowait("y")  # queued behind "decline", not written ahead of it
    assert taken == ["x"]
    assert queue.take_all() == ["decline", "y"]
    queue.done(2)
    await asyncio.wait_for(queue.join(), 1)


async def test_close_drops_everything_and_releases_waiters() -> None:
    queue = PacketQueue()
    queue.put_nowait("a")
    joined = asyncio.create_task(queue.join())
    await asyncio.sleep(0)
    queue.close()
    await asyncio.wait_for(joined, 1)
    queue.put_nowait("b")
    assert queue.empty() and queue.closed


class GatedSend:
    """An ASGI send that blocks, like uvicorn's under backpressure, while the gate is closed."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, msg: dict[str, Any]) -> None:
        await self.gate.wait()
        self.sent.append(msg)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "websocket.send"]


async def test_idle_writer_writes_inside_the_put_and_keeps_order_through_backpressure() -> None:
    queue = PacketQueue()
    send = GatedSend()
    writer = WebSocketWriter(queue, send)
    queue.put_nowait(message("1"))
    assert send.texts() == ["41"]  # written during the put: no task, no wake-up
    send.gate.clear()  # the client stops reading
    for n in range(2, 6):
        queue.put_nowait(message(str(n)))
    assert send.texts() == ["41"]
    assert queue.qsize() == 3  # "2" is in flight, the rest waits in order
    for _ in range(5):
        await asyncio.sleep(0)  # the writer Task takes over the blocked send and waits with it
    assert send.texts() == ["41"] and queue.backlog == 3
    send.gate.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert send.texts() == ["41", "42", "43", "44", "45"]
    queue.put_nowait(message("6"))
    assert send.texts()[-1] == "46"  # back to writing directly
    await writer.stop()
    assert send.sent[-1] == {"type": "websocket.close"}


async def test_close_packet_is_written_then_the_websocket_closed() -> None:
    queue = PacketQueue()
    send = GatedSend()
    WebSocketWriter(queue, send)
    queue.put_nowait(message("last"))
    queue.put_nowait(packet.Packet(packet.CLOSE))
    queue.put_nowait(message("too late"))
    await asyncio.wait_for(queue.join(), 1)
    for _ in range(5):
        await asyncio.sleep(0)
    assert [m.get("text") for m in send.sent] == ["4last", "1", None]
    assert send.sent[-1] == {"type": "websocket.close"}


async def test_a_stuck_write_is_abandoned_on_request() -> None:
    queue = PacketQueue()
    send = GatedSend()
    writer = WebSocketWriter(queue, send)
    send.gate.clear()
    queue.put_nowait(message("never"))
    await asyncio.wait_for(writer.stop(abandon=True), 1)
    assert send.sent == [] and queue.closed and writer.ended


async def test_packets_queued_before_the_websocket_are_sent_first() -> None:
    queue = PacketQueue()
    queue.put_nowait(message("open"))
    send = GatedSend()
    WebSocketWriter(queue, send)
    queue.put_nowait(message("next"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert send.texts() == ["4open", "4next"]
