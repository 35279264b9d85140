"""The integration guide's Temporal example: an activity that reports progress, its workflow,
the worker that runs them and the call that starts one.

Needs `temporalio` (`pip install temporalio`); the server itself does not.
The tests run the activity with `temporalio.testing.ActivityEnvironment`, and the
whole example (worker, workflow, start call) on Temporal's development server.
"""

from __future__ import annotations

# --- example: temporal imports ---
import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

# Workflow code runs in Temporal's sandbox; modules it only passes along are imported as they are.
with workflow.unsafe.imports_passed_through():
    from events.temporal import ProgressReporter

TASK_QUEUE = "line-counts"

# --- end example ---


# --- example: temporal activity ---
@dataclass
class LineCountJob:
    workflow_id: str  # the platform's workflow id (a UUID), also the Temporal workflow id
    project_id: str
    paths: list[str]


@activity.defn
async def count_lines(job: LineCountJob) -> dict[str, int]:
    progress = ProgressReporter(
        UUID(job.workflow_id), project_id=UUID(job.project_id), total_steps=len(job.paths)
    )
    counts: dict[str, int] = {}
    for path in job.paths:
        # A missing file raises: Temporal retries the activity, which starts over.
        # Steps the first attempt already reported are not broadcast again.
        text = await asyncio.to_thread(Path(path).read_text)
        counts[path] = len(text.splitlines())
        await progress.report(f"Counted {Path(path).name}")
    return counts


# --- end example ---


# --- example: temporal burst ---
@activity.defn
async def count_lines_at_once(job: LineCountJob) -> dict[str, int]:
    progress = ProgressReporter(
        UUID(job.workflow_id), project_id=UUID(job.project_id), total_steps=len(job.paths)
    )
    texts = await asyncio.gather(*(asyncio.to_thread(Path(path).read_text) for path in job.paths))
    counts = {path: len(text.splitlines()) for path, text in zip(job.paths, texts, strict=True)}
    # Every file is done at once: one call reports all the steps, in order, each keyed as report() keys it.
    await progress.report_many([f"Counted {Path(path).name}" for path in job.paths])
    return counts


# --- end example ---


# --- example: temporal workflow ---
@workflow.defn
class LineCountWorkflow:
    @workflow.run
    async def run(self, job: LineCountJob) -> dict[str, int]:
        return await workflow.execute_activity(
            count_lines,
            job,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5),
        )


async def run_worker(client: Client) -> None:
    """In the worker process: with REDIS_URL set, its events reach every server instance."""
    worker = Worker(client, task_queue=TASK_QUEUE, workflows=[LineCountWorkflow], activities=[count_lines])
    await worker.run()


async def start_line_count(client: Client, project_id: UUID, paths: list[str]) -> UUID:
    """From a route: start the workflow and hand its id to the client, which subscribes to it."""
    workflow_id = uuid.uuid4()
    job = LineCountJob(workflow_id=str(workflow_id), project_id=str(project_id), paths=paths)
    await client.start_workflow(LineCountWorkflow.run, job, id=str(workflow_id), task_queue=TASK_QUEUE)
    return workflow_id


# --- end example ---
