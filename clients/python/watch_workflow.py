"""Print a workflow's progress until it ends; started again, it resumes where it stopped.

EVENT_SERVER=http://localhost:8000 TOKEN=... python watch_workflow.py <workflow id>
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from realtime_client import ResetInfo, RoomClient


async def watch(servers: list[str], token: str, workflow_id: str) -> None:
    finished = asyncio.Event()

    def progress(event: dict[str, Any]) -> None:
        data = event["data"]
        print(f"{data['progress']:3d}% {data['current_step']}", flush=True)

    def ended(event: dict[str, Any]) -> None:  # workflow.completed or workflow.failed
        outcome = event["data"].get("result", event["data"].get("error"))
        print(event["type"], outcome, flush=True)
        finished.set()

    async def reload(room: str, info: ResetInfo) -> None:
        # History no longer covers what this process missed: read the workflow's state over REST here.
        print(f"reloading {room}: {info['reason']}", flush=True)

    # Positions are saved in a file once each event is handled: a restarted watcher resumes.
    async with RoomClient(storage=f"workflow-{workflow_id}.json", on_reset=reload) as rooms:
        rooms.on("workflow.progress", progress)
        rooms.on("workflow.completed", ended)
        rooms.on("workflow.failed", ended)
        await rooms.connect(servers, token=token)
        await rooms.subscribe(f"workflow:{workflow_id}")
        print(f"watching workflow:{workflow_id}", flush=True)
        await finished.wait()


if __name__ == "__main__":
    servers = os.environ.get("EVENT_SERVER", "http://localhost:8000").split(",")
    asyncio.run(watch(servers, os.environ["TOKEN"], sys.argv[1]))
