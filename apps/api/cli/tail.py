"""`python -m cli tail`: print a server's events as they arrive, one per line.

Connects like any client (namespace /ws, a JWT), subscribes to the rooms it is
given, joins them again after a reconnect, and writes each event to stdout:
time, type, room, payload; coloured by event family on a terminal, or the raw
envelope as JSON with `--json`. Connection news goes to stderr, the server's
`connection.established` greeting included, so stdout holds the events and
`--count N` counts them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import socketio

from websocket.protocol.paths import ENGINEIO_PATH, NAMESPACE

RESET = "\033[0m"
DIM = "\033[2m"
RED = "\033[31m"
COLOURS = {
    "project": "\033[34m",  # blue
    "agent": "\033[35m",  # magenta
    "workflow": "\033[33m",  # yellow
    "pr": "\033[36m",  # cyan
    "issue": "\033[36m",
    "ai": "\033[32m",  # green
    "connection": DIM,
}
# Connection news, not events: said on stderr ("connected to … as …"); the second is the legacy alias.
GREETINGS = frozenset({"connection.established", "connection_established"})


def format_event(name: str, event: Any, colour: bool) -> str:
    """One line: `12:00:01.123  workflow.progress  workflow:…  {"progress": 40, …}`."""
    envelope = event if isinstance(event, dict) else {"data": event}
    stamp = str(envelope.get("timestamp", ""))
    try:
        clock = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S.%f")[:-3]
    except ValueError:
        clock = datetime.now().strftime("%H:%M:%S.%f")[:-3]
    room = envelope.get("room") or "-"
    data = json.dumps(envelope.get("data"), separators=(", ", ": "), ensure_ascii=False)
    if not colour:
        return f"{clock}  {name:<22} {room}  {data}"
    tint = RED if name.endswith((".failed", ".error")) else COLOURS.get(name.partition(".")[0], "")
    return f"{DIM}{clock}{RESET}  {tint}{name:<22}{RESET} {room}  {DIM}{data}{RESET}"


def printable(text: str) -> str:
    """`text` with any lone surrogate (see jsonlib) written as its JSON escape, which UTF-8 can carry."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Tail:
    url: str
    token: str
    rooms: list[str]
    as_json: bool = False
    colour: bool = False
    count: int | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def __post_init__(self) -> None:
        self.printed = 0
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5)
        self.sio.on("connect", self._on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        self.sio.on("*", self._on_event, namespace=NAMESPACE)

    def _note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def _finish(self, code: int) -> None:
        if not self.done.done():
            self.done.set_result(code)

    async def _on_connect(self) -> None:
        self._note(f"connected to {self.url} as {self.sio.get_sid(NAMESPACE)}")
        self.sio.start_background_task(self._subscribe_all)

    async def _subscribe_all(self) -> None:
        for room in self.rooms:
            ack = await self.sio.call("subscribe", {"room": room}, namespace=NAMESPACE, timeout=10)
            if ack.get("status") != "success":
                self._note(f"subscribe {room}: {ack.get('code')}: {ack.get('message')}")
                self._finish(1)
                return
            self._note(f"subscribed to {ack['room']}")

    async def _on_disconnect(self, reason: Any = None) -> None:
        self._note(f"disconnected: {reason}")

    async def _on_connect_error(self, data: Any) -> None:
        detail = data.get("data") if isinstance(data, dict) else None
        if isinstance(detail, dict) and "code" in detail:
            self._note(f"refused: {detail['code']}: {detail.get('message')}")
            self._finish(1)

    async def _on_event(self, name: str, *args: Any) -> None:
        if name in GREETINGS:
            return
        event = args[0] if len(args) == 1 else list(args)
        line = (
            json.dumps(event, ensure_ascii=False) if self.as_json else format_event(name, event, self.colour)
        )
        print(printable(line), file=self.out, flush=True)
        self.printed += 1
        if self.count is not None and self.printed >= self.count:
            self._finish(0)

    async def run(self) -> int:
        try:
            await self.sio.connect(
                self.url, namespaces=[NAMESPACE], socketio_path=ENGINEIO_PATH, auth={"token": self.token},
                wait_timeout=10,
            )  # fmt: skip
        except socketio.exceptions.ConnectionError as exc:
            if not self.done.done():
                self._note(f"cannot connect to {self.url}: {exc}")
                self._finish(1)
        try:
            return await self.done
        finally:
            await self.sio.disconnect()
