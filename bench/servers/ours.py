"""Our server (apps/api) plus one bench-only route, `POST /bench/broadcast`.

The route sends through `get_broadcaster().publish()` exactly as application
code does. Everything else is `main.py` itself: `main.main()` runs with its own
settings, logging and uvicorn options; only `create_app` is wrapped to add the
route, so the benchmark follows whatever main.py does. Run as
`python -m bench.servers.ours` from apps/api with apps/api and the repository
root on PYTHONPATH (bench/targets.py does).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import main as api_main
from bench.servers.trigger import WORKFLOW_ID, LagProbe, Trigger, marker, paced
from events.broadcaster import get_broadcaster
from websocket.protocol.payloads import WorkflowProgress

_create_app = api_main.create_app


def create_bench_app(*args: Any, **kwargs: Any) -> FastAPI:
    app = _create_app(*args, **kwargs)

    async def broadcast(request: Request) -> JSONResponse:
        try:
            trigger = Trigger.parse(request.query_params)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        broadcaster = get_broadcaster()
        padding = "x" * trigger.pad
        failed = 0

        async def emit(i: int) -> None:
            nonlocal failed
            payload = WorkflowProgress(
                workflow_id=WORKFLOW_ID, progress=i % 101, current_step="bench", message=marker() + padding
            )
            if not await broadcaster.publish(payload, rooms=[trigger.room]):
                failed += 1

        elapsed = await paced(trigger.n, trigger.rate, emit)
        return JSONResponse({"sent": trigger.n, "failed": failed, "elapsed_ms": elapsed})

    probe = LagProbe()

    async def lag_start() -> JSONResponse:
        probe.start()
        return JSONResponse({"started": True})

    async def lag_stop() -> JSONResponse:
        return JSONResponse(probe.stop())

    async def collect(request: Request) -> JSONResponse:
        """A full collection now (with ?unfreeze=1: of the frozen heap too, frozen again after)."""
        frozen = gc.get_freeze_count()
        if request.query_params.get("unfreeze") == "1":
            gc.unfreeze()
        types = request.query_params.get("types") == "1"
        if types:  # keep what is found, to say what it was
            gc.set_debug(gc.DEBUG_SAVEALL)
        started = time.perf_counter()
        found = gc.collect()
        elapsed = (time.perf_counter() - started) * 1000
        if frozen and request.query_params.get("unfreeze") == "1":
            gc.freeze()  # as it was (GC_TUNING): the rest of the run is not changed by this probe
        kinds: dict[str, int] = {}
        if types:
            gc.set_debug(0)
            for obj in gc.garbage:
                name = f"{type(obj).__module__}.{type(obj).__qualname__}"
                kinds[name] = kinds.get(name, 0) + 1
            gc.garbage.clear()
        top = dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:40])
        return JSONResponse(
            {"collected": found, "ms": elapsed, "frozen_before": frozen, "tracked": len(gc.get_objects()),
             "types": top}
        )  # fmt: skip

    app.add_api_route("/bench/broadcast", broadcast, methods=["POST"])
    app.add_api_route("/bench/gc/collect", collect, methods=["POST"])
    app.add_api_route("/bench/lag/start", lag_start, methods=["POST"])
    app.add_api_route("/bench/lag/stop", lag_stop, methods=["POST"])
    return app


if __name__ == "__main__":
    api_main.create_app = create_bench_app
    api_main.main()
