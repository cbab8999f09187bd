"""A deliberately non-deterministic AccessRequestWorkflow: proof that the replay test can fail.

Registered under the real workflow name, its run begins with a timer the recorded histories do not have,
which is exactly what an unpatched `await workflow.sleep(...)` at the start of `run` would do.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.models import StatusView, WorkflowInput
    from workflows.access_request import AccessRequestWorkflow


@workflow.defn(name="AccessRequestWorkflow")
class SleepFirstAccessRequestWorkflow(AccessRequestWorkflow):
    @workflow.run
    async def run(self, inp: WorkflowInput) -> StatusView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)
