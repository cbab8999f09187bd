"""The Temporal Schedules grantflow owns (today: reconciliation), and running reconciliation once.

`apply_schedules` is idempotent: it creates what is missing and updates what exists to the wanted spec,
so `grantflow dev` and deploy scripts can call it on every start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from grantflow.domain.reconcile import SCHEDULE_ID, ReconcileInput, ReconcileReport
from workflows.reconcile import ReconcileWorkflow

DEFAULT_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class Applied:
    schedule_id: str
    created: bool
    every: timedelta

    def line(self) -> str:
        verb = "created" if self.created else "updated"
        return f"schedule {self.schedule_id} {verb}: reconciliation every {int(self.every.total_seconds())}s"


def reconcile_schedule(task_queue: str, every: timedelta = DEFAULT_EVERY) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(dry_run=False),
            id=SCHEDULE_ID,
            task_queue=task_queue,
            execution_timeout=timedelta(minutes=30),
            static_summary="grantflow reconciliation (scheduled)",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A slow run must not pile up runs behind it; a missed run is simply the next one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
    )


async def apply_schedules(client: Client, task_queue: str, every: timedelta = DEFAULT_EVERY) -> list[Applied]:
    wanted = reconcile_schedule(task_queue, every)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        return [Applied(SCHEDULE_ID, True, every)]
    except ScheduleAlreadyRunningError:
        pass

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(SCHEDULE_ID).update(update)
    return [Applied(SCHEDULE_ID, False, every)]


async def run_reconcile_once(client: Client, task_queue: str, dry_run: bool) -> ReconcileReport:
    """Start a one-off reconciliation (needs a worker on the task queue) and wait for its report."""
    return await client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(dry_run=dry_run),
        id=f"{SCHEDULE_ID}-once-{uuid.uuid4().hex[:12]}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=30),
        static_summary=f"grantflow reconciliation (manual{', dry run' if dry_run else ''})",
    )
