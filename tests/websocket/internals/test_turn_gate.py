"""The clean-up of ended WebSockets, a bounded number per event-loop turn (DISCONNECTS_PER_TURN)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clients import Client
from tests.support.servers import LiveServer, running
from tests.support.tokens import token
from websocket.internals.fastsocket import TurnGate


async def passes_per_turn(gate: TurnGate, callers: int) -> list[int]:
    """How many of `callers` concurrent `turn()`s went on in each loop turn, in order."""
    turns: list[int] = []
    current = [0]
    stop = False

    def tick() -> None:  # one call per loop turn: closes the count of the turn before
        turns.append(current[0])
        current[0] = 0
        if not stop:
            asyncio.get_running_loop().call_soon(tick)

    async def caller() -> None:
        await gate.turn()
        current[0] += 1

    asyncio.get_running_loop().call_soon(tick)
    await asyncio.gather(*(caller() for _ in range(callers)))
    stop = True
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return [n for n in turns if n]


async def test_at_most_per_turn_go_on_in_one_turn_and_all_do_in_the_end() -> None:
    counts = await passes_per_turn(TurnGate(3), 20)
    assert sum(counts) == 20
    assert max(counts) <= 2 * 3  # those let through at once plus those released in the same turn
    assert len(counts) >= 20 // (2 * 3)


async def test_zero_lets_everyone_through_in_one_turn() -> None:
    assert await passes_per_turn(TurnGate(0), 20) == [20]


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    gate = TurnGate(1)
    first, cancelled, last = (asyncio.create_task(gate.turn()) for _ in range(3))
    await asyncio.sleep(0)  # the three ran up to the gate: one went on, two wait
    assert first.done() and gate.waiting == 2
    cancelled.cancel()
    await asyncio.wait_for(last, 2)
    assert cancelled.cancelled() and gate.waiting == 0


@pytest.mark.fast_path_only(reason="the gate is FastSocket's")
async def test_a_mass_disconnect_through_a_narrow_gate_cleans_up_every_connection() -> None:
    async with running(LiveServer(disconnects_per_turn=1)) as server:
        assert server.sio.eio.end_gate.per_turn == 1
        clients = [
            await Client().connect(server.url, token(f"gate-{i}"), transports=["websocket"])
            for i in range(30)
        ]
        assert len(server.registry) == 30
        await asyncio.gather(*(client.close() for client in clients))
        deadline = asyncio.get_running_loop().time() + 10
        while (
            len(server.registry) or server.sio.eio.sockets
        ) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert len(server.registry) == 0 and not server.sio.eio.sockets
