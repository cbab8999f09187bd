"""Who may be named as grantee, and what counts as an email, at the CLI and inside the workflow, against the
real dev server and worker with the shipped example config (its `reports` folders are automatic for
engineering and finance, so an accepted request would be granted at once)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from temporalio.client import Client

from grantflow.client import new_request_id, workflow_id_for
from grantflow.domain.models import GrantItem, RequestSpec, WorkflowInput
from tests.e2e.conftest import Stack
from workflows.access_request import AccessRequestWorkflow

READ_FINANCE = [
    "--integration",
    "reports",
    "--resource-type",
    "folder",
    "--resource",
    "finance",
    "--permission",
    "read",
    "--duration",
    "1h",
]
FINANCE = GrantItem(integration="reports", resource_type="folder", resource="finance", permission="read")


async def started_workflows(stack: Stack) -> list[str]:
    query = f'TaskQueue="{stack.settings.task_queue}"'
    return [w.id async for w in stack.client.list_workflows(query)]


def reports_files(stack: Stack) -> list[str]:
    root = stack.state_dir / "reports"
    return sorted(str(p.relative_to(stack.state_dir)) for p in root.rglob("*")) if root.exists() else []


async def test_cli_refuses_a_grantee_outside_the_flow(stack: Stack) -> None:
    refused = await stack.cli("request", "--as", "alice@example.com", "--for", "mallory@example.com", *READ_FINANCE)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert (
        'access flows "Engineers read databases", "Report folders, read (automatic)" may not grant access to '
        "mallory@example.com: mallory@example.com is neither a requestor of any of them nor listed in their grantees"
    ) in refused.stderr
    assert await started_workflows(stack) == []
    assert reports_files(stack) == []
    audit = [e for e in await stack.facade.audit() if e.actor == "alice@example.com"]
    assert audit and audit[-1].outcome == "refused" and "mallory@example.com" in audit[-1].reason

    # Another requestor of the same flow (dave is in group:finance) may be named.
    ok = await stack.cli_json("request", "--as", "alice@example.com", "--for", "dave@example.com", *READ_FINANCE)
    view = await stack.wait_status(ok["request_id"], "ACTIVE")
    assert view["grantee"] == "dave@example.com"


BAD_EMAILS = [
    "../../x@y",
    "../../x@example.com",
    "a/b@example.com",
    "a\\b@example.com",
    "x@y",
    "x y@example.com",
    '"x"@example.com',
    "x@example.com\x07",
    "x" * 250 + "@example.com",
    "x@@example.com",
    "",
]


def assert_bad_email(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 2, (done.args, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("grantflow: error: "), done.stderr
    assert "not an email address" in done.stderr or "longer than 254" in done.stderr, done.stderr


async def test_cli_refuses_a_bad_email_in_one_line_and_starts_nothing(stack: Stack) -> None:
    for bad in BAD_EMAILS:
        assert_bad_email(await stack.cli("request", "--as", "alice@example.com", "--for", bad, *READ_FINANCE))
    for bad in ("../../alice@example.com", "alice@example"):
        assert_bad_email(await stack.cli("request", "--as", bad, *READ_FINANCE))
        for command in ("approve", "reject", "extend", "revoke", "details"):
            assert_bad_email(await stack.cli(command, "abcdefghij", "--as", bad))
        assert_bad_email(await stack.cli("list", "--as", bad))
        assert_bad_email(await stack.cli("assist", "--as", bad, "read the finance folder"))
    assert await started_workflows(stack) == []
    assert reports_files(stack) == []


async def test_an_outsider_grantee_submitted_straight_to_temporal_fails_by_policy(stack: Stack) -> None:
    """No front door: a workflow started with the Temporal client for an automatic flow, naming an outsider as
    grantee. The policy resolved inside the workflow refuses it: FAILED, never ACTIVE, nothing granted."""
    client: Client = stack.client
    for grantee, why in (
        ("mallory@example.com", '"Report folders, read (automatic)" may not grant access to mallory'),
        ("../../x@y", "it contains a slash"),
    ):
        rid = new_request_id()
        spec = RequestSpec(requester="alice@example.com", grantee=grantee, items=[FINANCE], duration_seconds=3600)
        await client.start_workflow(
            AccessRequestWorkflow.run,
            WorkflowInput(request_id=rid, spec=spec, submitted_at=datetime.now(UTC)),
            id=workflow_id_for(rid),
            task_queue=stack.settings.task_queue,
        )
        view = await stack.wait_status(rid, "FAILED")
        assert why in view["status_reason"], view["status_reason"]
        assert view["granted_at"] is None
    assert reports_files(stack) == []
