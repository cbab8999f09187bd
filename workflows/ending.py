"""How a request's workflow ends: completed with the final status view, or failed when the request FAILED.

A FAILED request (policy refused, approval timed out, a grant failed) fails its workflow with the request's
reason as the failure message, so that Temporal's own tools show it as a failure (`ExecutionStatus="Failed"`,
the Web UI's Failures view); REJECTED, EXPIRED and REVOKED complete. Either way the `status` query and the
request index give the full view, and the failure carries that view as its one detail (docs/contract.md).

Deterministic, no I/O.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.models import AccessStatus, StatusView

# Histories recorded before it completed a FAILED request's workflow: they replay as recorded.
FAILED_ENDS_FAILED_PATCH = "failed-ends-failed"
# The ApplicationError type of a FAILED request's workflow failure (grantflow.client.final_view reads it).
REQUEST_FAILED_TYPE = "AccessRequestFailed"


def end(view: StatusView) -> StatusView:
    """The workflow's result: `view`, or the failure of a FAILED request (raised)."""
    if view.status == AccessStatus.FAILED and workflow.patched(FAILED_ENDS_FAILED_PATCH):
        raise ApplicationError(view.status_reason or "failed", view, type=REQUEST_FAILED_TYPE, non_retryable=True)
    return view
