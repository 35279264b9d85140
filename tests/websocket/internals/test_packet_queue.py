"""PacketQueue keeps asyncio.Queue's meaning and counts the bytes waiting; WebSocketWriter keeps order.

The writer is driven here with an ASGI `send` that can be made to block, the
way uvicorn's does while a client's TCP buffer is full; tests/integration/
test_fastsocket.py does the same against real uvicorn and real clients.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from engineio import packet

from websocket.internals.frame_lane import FrameLane
from websocket.internals.packet_queue import PacketQueue, SizedPacket, packet_size
from websocket.internals.ws_writer import WebSocketWriter


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


def test_the_lane_is_open_exactly_while_a_put_would_go_to_the_sink() -> None:
    """A broadcast may bypass the queue through the lane (manager.py) only when that keeps the order."""
    lane = FrameLane(transport=None, blocked=FrameLane.SINK | FrameLane.PAUSED)
    queue = PacketQueue()
    queue.lane = lane
    assert lane.blocked == FrameLane.SINK | FrameLane.PAUSED  # no sink yet; other bits are not the queue's
    lane.unblock(FrameLane.PAUSED)
    queue.sink = lambda item: item != "decline"
    assert lane.blocked == 0
    queue.put_nowait("x")  # taken by the sink
    assert lane.blocked == 0
    queue.sink = None  # the writer takes over (a blocked send, a CLOSE)
    queue.put_nowait("waits")
    assert lane.blocked == FrameLane.SINK
    assert queue.take_all() == ["waits"]
    queue.done(1)
    queue.sink = lambda item: True  # the writer is idle again
    assert lane.blocked == 0
    queue.seal([message("goodbye")])  # taken by the sink, but nothing may follow it
    assert lane.blocked == FrameLane.SINK
    other = PacketQueue()
    other.lane = lane2 = FrameLane(transport=None, blocked=FrameLane.SINK)
    other.sink = lambda item: True
    assert lane2.blocked == 0
    other.close()
    assert lane2.blocked == FrameLane.SINK


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


async def test_abandoning_a_writer_whose_task_never_ran_returns() -> None:
    """The peer left before the Task a blocked write started ever ran (a bad packet closes the
    session, the client hangs up): stop() once waited on that cancelled Task forever, spinning
    until uvicorn's shutdown timeout cancelled the connection's handler."""
    queue = PacketQueue()
    send = GatedSend()
    writer = WebSocketWriter(queue, send)
    send.gate.clear()
    queue.put_nowait(message("x"))  # blocks inside the put: the Task is created, not yet run
    async with asyncio.timeout(1):  # in this Task: the writer's must not get to run first
        await writer.stop(abandon=True)
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


# -- bytes waiting (MAX_QUEUED_BYTES) ------------------------------------------------


def sized(text: str) -> SizedPacket:
    return SizedPacket(packet.MESSAGE, text)


def test_a_packet_is_sized_once_by_the_memory_its_data_holds() -> None:
    ascii_text, wide = "a" * 1000, "€" * 1000  # one byte per character, then two (UCS-2)
    assert sized(ascii_text).size == sys.getsizeof(ascii_text)
    assert sized(wide).size == sys.getsizeof(wide) > 2000
    assert packet_size(sized(ascii_text)) == sized(ascii_text).size
    assert packet_size(message(ascii_text)) == sys.getsizeof(ascii_text)  # stock packets: sized at the put
    assert packet_size(None) == 0  # the end marker


def test_bytes_are_counted_per_queue_and_released_when_the_consumer_comes_back() -> None:
    shared = sized("x" * 10_000)  # one broadcast packet, in two recipients' queues
    first, second = PacketQueue(limit=100_000), PacketQueue(limit=100_000)
    for queue in (first, second):
        queue.put_nowait(shared)
        queue.put_nowait(shared)
    assert first.pending_bytes == second.pending_bytes == 2 * shared.size
    batch = first.take_all()
    assert len(batch) == 2 and first.pending_bytes == 2 * shared.size  # still held by the writer
    first.done(2)
    assert first.take_all() == [] and first.pending_bytes == 0  # back for more: the batch is handled
    assert second.get_nowait() is shared
    assert second.pending_bytes == 2 * shared.size  # one taken, one queued
    assert second.headroom() == 100_000 - 2 * shared.size


async def test_a_getter_coming_back_releases_what_it_took() -> None:
    queue = PacketQueue(limit=100_000)
    queue.put_nowait(sized("x" * 5000))
    await queue.get()
    queue.task_done()
    assert queue.pending_bytes > 5000  # the poll's response is still on its way
    queue.put_nowait(sized("y" * 10))
    await queue.get()  # the next poll: the previous response was sent
    assert queue.pending_bytes == sized("y" * 10).size


def test_what_a_sink_writes_at_once_is_never_counted() -> None:
    queue = PacketQueue(limit=50_000)
    queue.sink = lambda item: True  # an idle WebSocket writer
    for _ in range(100):
        queue.put_nowait(sized("x" * 10_000))  # 1 MB written, none of it waiting
    assert queue.pending_bytes == 0


def test_over_the_limit_everything_is_dropped_and_the_owner_told_once() -> None:
    queue = PacketQueue(limit=25_000)
    calls: list[int] = []
    queue.on_overflow = lambda: calls.append(queue.pending_bytes)
    queue.put_nowait(sized("x" * 10_000))
    queue.put_nowait(sized("x" * 10_000))
    assert calls == [] and queue.qsize() == 2
    queue.put_nowait(sized("x" * 10_000))  # past 25,000
    assert calls == [0] and queue.empty()  # dropped before the owner hears of it
    queue.put_nowait(sized("x" * 10_000))
    assert calls == [0] and queue.empty() and queue.pending_bytes == 0  # refused, not counted


def test_a_sealed_queue_holds_only_its_goodbye() -> None:
    queue = PacketQueue(limit=25_000)
    goodbye = [sized("error"), packet.Packet(packet.CLOSE)]
    queue.on_overflow = lambda: queue.seal(goodbye)
    for _ in range(3):
        queue.put_nowait(sized("x" * 10_000))
    assert queue.take_all() == goodbye
    queue.put_nowait(sized("late"))
    assert queue.empty() and not queue.closed


def test_without_an_owner_an_overflowing_queue_closes() -> None:
    queue = PacketQueue(limit=16_384)
    queue.put_nowait(sized("x" * 20_000))
    assert queue.closed and queue.empty() and queue.pending_bytes == 0


async def test_a_writer_under_backpressure_counts_what_it_holds() -> None:
    queue = PacketQueue(limit=1_000_000)
    send = GatedSend()
    WebSocketWriter(queue, send)
    send.gate.clear()  # the client stops reading
    for _ in range(10):
        queue.put_nowait(sized("x" * 10_000))
    for _ in range(5):
        await asyncio.sleep(0)  # the writer's Task waits with the first write
    assert queue.qsize() == 9 and queue.pending_bytes == 9 * sized("x" * 10_000).size  # in flight: not
    send.gate.set()
    for _ in range(30):
        await asyncio.sleep(0)
    assert len(send.texts()) == 10
    queue.put_nowait(sized("y"))  # back to writing directly
    assert queue.pending_bytes == 0
