"""The Web UI's view of requests on a real dev server: search-attribute filters and readable summaries.

Visibility on the dev server is eventually consistent, so each listing is polled (bounded) until it
settles; the assertion is on the exact set of matching requests, scoped to this module's task queue.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.api.sdk.v1 import WorkflowMetadata

from grantflow.domain.models import AccessStatus
from tests.operations.conftest import Stack, eventually


async def ids_for(stack: Stack, query: str) -> set[str]:
    scoped = f'({query}) AND TaskQueue = "{stack.settings.task_queue}" AND WorkflowType = "AccessRequestWorkflow"'
    return {w.id async for w in stack.temporal.list_workflows(scoped)}


async def test_contract_filters_find_exactly_the_matching_requests(stack: Stack) -> None:
    async def submit(requester: str, resource: str, duration: str) -> str:
        spec = stack.client.build_spec(
            requester=requester,
            integration="files",
            resource_type="folder",
            resources=[resource],
            permission="read",
            duration=duration,
            justification="incident 42",
        )
        return (await stack.client.submit(spec)).workflow_id

    short = await submit("erin@example.com", "gamma", "1h")
    long = await submit("frank@example.com", "gamma", "5h")
    pending = await submit("alice@example.com", "alpha", "1h")
    for wid in (short, long):
        view = await stack.client.wait_for(wid, {AccessStatus.ACTIVE, AccessStatus.FAILED})
        assert view.status == AccessStatus.ACTIVE, view.status_reason
    cutoff = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

    expected = {
        'AccessStatus = "ACTIVE"': {short, long},
        'AccessStatus = "PENDING_APPROVAL"': {pending},
        'AccessRequester = "alice@example.com"': {pending},
        'AccessRequester = "frank@example.com"': {long},
        f'AccessExpiresAt < "{cutoff}"': {short},
        f'AccessExpiresAt > "{cutoff}"': {long},
        'AccessIntegrations = "files" AND AccessGrantee = "erin@example.com"': {short},
    }
    for query, want in expected.items():
        got = await eventually(lambda q=query: ids_for(stack, q), lambda ids, w=want: ids == w)  # type: ignore[misc]
        assert got == want, query


async def test_web_ui_shows_a_readable_summary_and_current_details(stack: Stack) -> None:
    spec = stack.client.build_spec(
        requester="erin@example.com",
        grantee="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["gamma"],
        permission="read",
        duration="90m",
        justification="",
    )
    sub = await stack.client.submit(spec)
    view = await stack.client.wait_for(sub.request_id, {AccessStatus.ACTIVE})
    assert view.status == AccessStatus.ACTIVE and view.expires_at is not None
    handle = stack.temporal.get_workflow_handle(sub.workflow_id)
    desc = await handle.describe()
    assert await desc.static_summary() == "erin@example.com → files/gamma (read) for 1h30m"
    details = await desc.static_details() or ""
    assert "**Grantee:** erin@example.com" in details and "- files/folder:gamma (read)" in details

    async def current() -> str:
        meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        return meta.current_details

    line = await eventually(current, lambda d: "ACTIVE" in d)
    assert line == f"erin@example.com → files/gamma (read) · ACTIVE until {view.expires_at:%Y-%m-%d %H:%M} UTC"
