"""A FAILED request on a real dev server: its workflow is Failed for Temporal (the Web UI's Failures view),
with the request's reason; every reader grantflow has still gives the whole view and the CLI reports it."""

from __future__ import annotations

import json

from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError

from grantflow.domain.models import AccessStatus
from tests.operations.cli import grantflow
from tests.operations.conftest import Stack, eventually


async def test_a_failed_grant_is_a_failed_workflow_and_still_reads_everywhere(stack: Stack) -> None:
    spec = stack.client.build_spec(
        requester="dan@example.com",
        integration="files",
        resource_type="folder",
        resources=["broken"],
        permission="read",
        duration="1h",
        justification="incident 7",
    )
    rid = (await stack.client.submit(spec)).request_id
    approved = await grantflow(stack, "approve", rid, "--as", "bob@example.com", "--json")
    assert approved.returncode in (0, 1, 2), approved.stderr  # its exit code is i13's CLI work, not this test's
    final = await stack.client.result(rid)  # waits for the workflow to close, failed
    assert final.status == AccessStatus.FAILED and "the folder is broken" in final.status_reason
    handle = stack.temporal.get_workflow_handle(f"access-request-{rid}")
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.FAILED
    events = [e async for e in handle.fetch_history_events()]
    failure = events[-1].workflow_execution_failed_event_attributes.failure
    # The reason is the failure's message: encrypted in history (docs/contract.md), read through the codec.
    assert failure.message == "Encoded failure" and final.status_reason.encode() not in failure.SerializeToString()
    decoded = await stack.temporal.data_converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message == final.status_reason
    assert decoded.type == "AccessRequestFailed" and decoded.non_retryable

    # After the close: the status query (the closed workflow answers), the request index, the CLI.
    assert (await stack.client.status(rid)).status == AccessStatus.FAILED
    indexed = await eventually(
        lambda: stack.client.list_requests(status="FAILED"), lambda vs: any(v.request_id == rid for v in vs)
    )
    assert any(v.request_id == rid and v.status_reason == final.status_reason for v in indexed)
    shown = await grantflow(stack, "status", rid, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["status"], data["status_reason"]) == ("FAILED", final.status_reason)
