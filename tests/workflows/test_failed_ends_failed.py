"""A FAILED request fails its workflow (the Web UI's Failures view, `ExecutionStatus="Failed"`) with the
request's reason; REJECTED, EXPIRED and REVOKED complete. The status query, the request index and
`GrantflowClient.result` still give the full view of a failed one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from grantflow.domain.models import AccessStatus, WorkflowInput
from tests.workflows.conftest import Harness, settle
from tests.workflows.test_lifecycle import signal, spec
from workflows.ending import REQUEST_FAILED_TYPE


async def closed(h: Harness, request_id: str) -> WorkflowExecutionStatus | None:
    handle = h.env.client.get_workflow_handle(f"access-request-{request_id}")
    for _ in range(200):
        desc = await handle.describe()
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return desc.status
        await h.env.sleep(1)
    raise AssertionError(f"{request_id} never closed")


async def test_a_failed_grant_fails_the_workflow_with_the_reason(h: Harness) -> None:
    rid = (await h.client.submit(spec(h, resources=("alpha", "broken")))).request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    view = await settle(h, rid, {"FAILED"}, timeout=60)
    assert await closed(h, rid) == WorkflowExecutionStatus.FAILED
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == REQUEST_FAILED_TYPE and cause.non_retryable
    assert cause.message == view["status_reason"] and "grant failed: files/folder:broken (read)" in cause.message
    # The full view: from the facade's result, the status query of the closed workflow and the request index.
    final = await h.client.result(rid)
    assert final.status == AccessStatus.FAILED and final.status_reason == view["status_reason"]
    assert final.ended_at is not None and final.approvals[0].approver == "bob@example.com"
    assert (await h.client.status(rid)).status == AccessStatus.FAILED
    indexed = h.store.get_request(rid)
    assert indexed is not None and indexed.status == AccessStatus.FAILED


async def test_a_request_the_policy_refuses_at_start_fails_its_workflow(h: Harness) -> None:
    s = spec(h).model_copy(update={"requester": "nobody@example.com", "grantee": "nobody@example.com"})
    rid = "policyfails1"
    await h.env.client.start_workflow(
        "AccessRequestWorkflow",
        WorkflowInput(request_id=rid, spec=s, submitted_at=datetime.now(UTC)),
        id=f"access-request-{rid}",
        task_queue=h.worker.task_queue,
    )
    await settle(h, rid, {"FAILED"})
    assert await closed(h, rid) == WorkflowExecutionStatus.FAILED
    final = await h.client.result(rid)
    assert final.status == AccessStatus.FAILED and final.status_reason.startswith("policy: ")


async def test_rejected_and_revoked_requests_complete(h: Harness) -> None:
    rejected = (await h.client.submit(spec(h))).request_id
    await h.client.reject(rejected, "carol@example.com", "use staging")
    withdrawn = (await h.client.submit(spec(h))).request_id
    await signal(h, withdrawn, "revoke", {"actor": "alice@example.com"})
    for rid, want in ((rejected, AccessStatus.REJECTED), (withdrawn, AccessStatus.REVOKED)):
        assert await closed(h, rid) == WorkflowExecutionStatus.COMPLETED
        assert (await h.client.result(rid)).status == want
