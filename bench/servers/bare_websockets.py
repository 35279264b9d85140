"""Reference: the practical ceiling for Python, `websockets.broadcast()`.

A plain `websockets` server that speaks just enough Engine.IO v4 / Socket.IO
v5 for the load generator (handshake, namespace CONNECT, `subscribe` with ack,
one global ping loop), with no per-client task, queue or session beyond the
connection itself. A broadcast is one `broadcast(room, frame)` call. The
trigger route lives on a separate control port, because the websockets HTTP
parser accepts only GET upgrade requests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
from typing import Any

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.servers.trigger import Trigger, control_handler, paced, reference_event

PREFIX = "/ws,"
PING_INTERVAL = 25
HANDSHAKE = '0{"sid":"%s","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1000000}'
EVENT = re.compile(r"(\d*)(\[.*)", re.DOTALL)

rooms: dict[str, set[ServerConnection]] = {}
everyone: set[ServerConnection] = set()
sids = itertools.count(1)


async def handler(ws: ServerConnection) -> None:
    sid = f"s{next(sids)}"
    joined: list[str] = []
    everyone.add(ws)
    try:
        await ws.send(HANDSHAKE % sid)
        async for message in ws:  # ends quietly on a close, raises on an abrupt drop
            if not isinstance(message, str) or message == "3":
                continue
            if message.startswith("40" + PREFIX):
                await ws.send(f'40{PREFIX}{{"sid":"{sid}"}}')
            elif message.startswith("42" + PREFIX):
                await on_event(ws, message[len(PREFIX) + 2 :], joined)
            elif message.startswith("41" + PREFIX):
                break
    except ConnectionClosed:
        pass  # a client that vanished: nothing to clean up beyond the rooms
    finally:
        everyone.discard(ws)
        for room in joined:
            rooms[room].discard(ws)


async def on_event(ws: ServerConnection, text: str, joined: list[str]) -> None:
    match = EVENT.fullmatch(text)
    if match is None:
        return
    ack_id, body = match.groups()
    with contextlib.suppress(ValueError):
        data = json.loads(body)
        if data[0] == "subscribe" and isinstance(data[1], dict) and isinstance(data[1].get("room"), str):
            room = data[1]["room"]
            rooms.setdefault(room, set()).add(ws)
            joined.append(room)
            if ack_id:
                await ws.send(f"43{PREFIX}{ack_id}" + json.dumps([{"status": "success", "room": room}]))


async def pinger() -> None:
    while True:
        await asyncio.sleep(PING_INTERVAL)
        broadcast(everyone, "2")


async def send_events(trigger: Trigger) -> dict[str, Any]:
    padding = "x" * trigger.pad

    async def emit(i: int) -> None:
        frame = f"42{PREFIX}" + json.dumps(["workflow.progress", reference_event(trigger.room, i, padding)])
        broadcast(rooms.get(trigger.room, ()), frame)

    elapsed = await paced(trigger.n, trigger.rate, emit)
    return {"sent": trigger.n, "failed": 0, "elapsed_ms": elapsed}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    args = parser.parse_args()
    control_server = await asyncio.start_server(control_handler(send_events), "127.0.0.1", args.control_port)
    ping_task = asyncio.create_task(pinger())
    async with (
        control_server,
        serve(
            handler, "127.0.0.1", args.port, compression=None, ping_interval=None, max_size=1_000_000
        ) as server,
    ):
        await server.serve_forever()
    ping_task.cancel()


if __name__ == "__main__":
    uvloop.run(main())
