"""Progress events from Temporal activities, safe under retries.

    from events.temporal import ProgressReporter

    @activity.defn
    async def analyse(job: AnalysisJob) -> dict:
        progress = ProgressReporter(job.workflow_id, project_id=job.project_id, total_steps=3)
        await progress.report("Cloning")
        ...

Two things a bare `broadcast_workflow_progress` call gets wrong in an activity:

* A failed broadcast must not fail the activity (Temporal would retry the
  real work because a progress bar could not be updated). `report()` never
  raises; it returns False and logs.
* Temporal retries activities: attempt 2 repeats the steps attempt 1 already
  reported. Each report carries an idempotency key made of the workflow id,
  run id, activity id, step and sequence number (never the attempt), so the
  broadcaster drops what an earlier attempt already sent, across processes
  when `REDIS_URL` is set. The run id is included because workflow ids are
  often business ids, reused by the next run: that run's progress is new.

This module imports `temporalio`; the server never imports it, so the server
runs without the SDK installed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from temporalio import activity

from events.broadcaster import EventBroadcaster, get_broadcaster
from logging_setup import get_logger
from websocket.protocol.payloads import WorkflowProgress

log = get_logger("events.temporal")


def idempotency_key(info: activity.Info, sequence: int, step: str) -> str:
    """The same for every attempt of one activity's n-th report of a step."""
    parts = (
        info.workflow_namespace,
        info.workflow_id,
        info.workflow_run_id,
        info.activity_id,
        str(sequence),
        step,
    )
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]
    return f"temporal:{digest}"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a `report_many` batch: what `report()` takes, as a value."""

    current_step: str
    progress: int | None = None
    message: str | None = None


class ProgressReporter:
    """Reports an activity's progress as `workflow.progress` events.

    Outside an activity (a unit test, a script) it works the same without
    idempotency keys.
    """

    def __init__(
        self,
        workflow_id: UUID,
        *,
        project_id: UUID | None = None,
        total_steps: int | None = None,
        broadcaster: EventBroadcaster | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.project_id = project_id
        self.total_steps = total_steps
        self.sequence = 0
        self._broadcaster = broadcaster or get_broadcaster()
        self._info = activity.info() if activity.in_activity() else None

    async def report(
        self,
        current_step: str,
        *,
        step_number: int | None = None,
        progress: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Publish one progress event; True when delivered (or already delivered by an earlier attempt).

        `step_number` defaults to the count of reports so far. An activity that
        resumes from heartbeat details after a retry passes it, so a resumed
        attempt's reports line up with the first attempt's.
        """
        self.sequence = step_number if step_number is not None else self.sequence + 1
        if progress is None:
            progress = self.sequence * 100 // self.total_steps if self.total_steps else 0
        key = idempotency_key(self._info, self.sequence, current_step) if self._info else None
        try:
            return await self._broadcaster.broadcast_workflow_progress(
                workflow_id=self.workflow_id,
                project_id=self.project_id,
                progress=max(0, min(100, progress)),
                current_step=current_step,
                step_number=self.sequence,
                total_steps=self.total_steps,
                message=message,
                idempotency_key=key,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a progress event is never worth failing the activity for
            log.warning(
                "progress_report_failed",
                workflow_id=str(self.workflow_id),
                step=current_step,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False

    async def report_many(self, steps: Sequence[str | Step]) -> bool:
        """Publish several steps at once (a burst of progress), in order, in one broadcaster call.

        Each step is numbered and keyed as consecutive `report()` calls would
        number and key it, so a retried attempt's batch is deduplicated step by
        step. All the events are built (validated) first: if one is invalid,
        none is published. True when every step was delivered (or already was);
        never raises.
        """
        sequence = self.sequence
        payloads: list[WorkflowProgress] = []
        keys: list[str | None] = []
        try:
            for item in steps:
                step = Step(item) if isinstance(item, str) else item
                sequence += 1
                progress = step.progress
                if progress is None:
                    progress = sequence * 100 // self.total_steps if self.total_steps else 0
                payloads.append(
                    WorkflowProgress(
                        workflow_id=self.workflow_id,
                        project_id=self.project_id,
                        progress=max(0, min(100, progress)),
                        current_step=step.current_step,
                        step_number=sequence,
                        total_steps=self.total_steps,
                        message=step.message,
                    )
                )
                keys.append(idempotency_key(self._info, sequence, step.current_step) if self._info else None)
            self.sequence = sequence
            results = await self._broadcaster.publish_many(payloads, idempotency_keys=keys)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # as report(): never worth failing the activity for
            log.warning(
                "progress_report_failed",
                workflow_id=str(self.workflow_id),
                steps=len(steps),
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        return all(result.ok for result in results)
