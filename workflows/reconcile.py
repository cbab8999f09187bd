"""ReconcileWorkflow: compare what integrations hold under grantflow's names with the live requests.

Run by a Temporal Schedule (`grantflow schedules apply`) and on demand (`grantflow reconcile`). The facts are
gathered by one activity, judged by the pure `grantflow.domain.reconcile.classify`, orphans and overdue grants
are removed one activity each (a failure is a finding, not a failed run), and the report goes to the audit trail
and the admins.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.reconcile import (
        RECONCILE_WORKFLOW_TYPE,
        REMOVED_KINDS,
        Finding,
        Inventory,
        ReconcileInput,
        ReconcileReport,
        RemoveOp,
        classify,
    )

INVENTORY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=5)
REMOVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20), maximum_attempts=4
)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileReport:
        started = workflow.now()
        inv = await workflow.execute_activity(
            "reconcile_inventory",
            result_type=Inventory,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=INVENTORY_RETRY,
        )
        findings, in_step = classify(inv, inp.dry_run)
        if not inp.dry_run:
            findings = list(await asyncio.gather(*(self._remove(f) for f in findings)))
        report = ReconcileReport(
            started_at=started,
            finished_at=workflow.now(),
            dry_run=inp.dry_run,
            findings=findings,
            in_step=in_step,
            listed=inv.listed,
            not_listable=inv.not_listable,
            errors=inv.errors,
        )
        workflow.set_current_details(report.summary())
        await workflow.execute_activity(
            "reconcile_record",
            report,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RECORD_RETRY,
        )
        return report

    async def _remove(self, f: Finding) -> Finding:
        if f.kind not in REMOVED_KINDS:
            return f
        op = RemoveOp(integration=f.integration, handle=f.handle, request_id=f.request_id, overdue=f.kind == "overdue")
        try:
            outcome: str = await workflow.execute_activity(
                "reconcile_remove",
                op,
                result_type=str,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=REMOVE_RETRY,
                summary=f"remove {f.integration}:{f.handle}",
            )
        except ActivityError as exc:
            cause: BaseException = exc
            while isinstance(cause, ActivityError) and cause.cause is not None:
                cause = cause.cause
            return f.model_copy(update={"action": "revoke_failed", "detail": f"{f.detail}; removal failed: {cause}"})
        if outcome == "revoked":
            return f
        return f.model_copy(update={"action": "skipped", "detail": f"{f.detail}; {outcome}"})
