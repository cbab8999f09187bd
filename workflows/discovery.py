"""DiscoveryWorkflow: list what exists of one resource type at one integration, for a front door's check.

Front doors hold no integration credentials; the worker does. The client facade runs this short workflow
(one activity, no retry: an unreachable target is reported, not waited for) and caches the answer.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.discovery import (
        DISCOVERY_ACTIVITY,
        DISCOVERY_WORKFLOW_TYPE,
        DiscoveryAnswer,
        DiscoveryQuery,
    )


@workflow.defn(name=DISCOVERY_WORKFLOW_TYPE)
class DiscoveryWorkflow:
    @workflow.run
    async def run(self, query: DiscoveryQuery) -> DiscoveryAnswer:
        return await workflow.execute_activity(
            DISCOVERY_ACTIVITY,
            query,
            result_type=DiscoveryAnswer,
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
