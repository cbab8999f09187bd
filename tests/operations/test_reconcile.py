"""Reconciliation against a real embedded PostgreSQL and the real dev server.

Roles: a live request's role (left alone), an orphan of a finished request (removed), a `gf_` role that
grantflow did not make and one shaped like ours but unknown to the index (both reported, never touched),
and a role outside the `gf_` namespace (invisible to reconciliation).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from temporalio.client import ScheduleActionStartWorkflow

from activities.integrations.postgresql import PostgresIntegrationDriver, role_name
from grantflow.domain.config import PostgresIntegration
from grantflow.domain.models import AccessStatus, GrantItem, StatusView
from grantflow.domain.reconcile import RECONCILE_ACTOR, ReconcileReport
from grantflow.schedules import SCHEDULE_ID, apply_schedules, run_reconcile_once
from tests.conftest import DSN_ENV, PgServer
from tests.operations.cli import grantflow
from tests.operations.conftest import ADMIN_CHANNEL, Stack, eventually

pytestmark = pytest.mark.usefixtures("pg_server")

PG_ITEM = GrantItem(integration="pg", resource_type="database", resource="orders", permission="read")


def rid() -> str:
    return uuid.uuid4().hex[:10]


def roles(pg: PgServer) -> set[str]:
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}


def create_role(pg: PgServer, name: str) -> None:
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x'").format(sql.Identifier(name)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE orders TO {}").format(sql.Identifier(name)))


def finished_request(request_id: str, grantee: str, status: AccessStatus) -> StatusView:
    now = datetime.now(UTC)
    return StatusView(
        request_id=request_id,
        workflow_id=f"access-request-{request_id}",
        status=status,
        requester=grantee,
        grantee=grantee,
        grants=[PG_ITEM],
        duration_seconds=3600,
        submitted_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=1),
    )


@pytest.fixture()
async def cleanup(pg_server: PgServer) -> AsyncIterator[list[str]]:
    made: list[str] = []
    yield made
    driver = PostgresIntegrationDriver(PostgresIntegration(id="pg", type="postgresql", dsn_env=DSN_ENV))
    for name in made:
        await driver.drop_role(name)


async def granted(stack: Stack, grantee: str, cleanup: list[str]) -> StatusView:
    """A request of the seniors' automatic PostgreSQL flow, granted for real through the worker; its role is
    added to `cleanup`."""
    spec = stack.client.build_spec(
        requester=grantee,
        integration="pg",
        resource_type="database",
        resources=["orders"],
        permission="read",
        duration="2h",
    )
    sub = await stack.client.submit(spec)
    view = await stack.client.wait_for(sub.request_id, {AccessStatus.ACTIVE, AccessStatus.FAILED}, timeout=30)
    assert view.status == AccessStatus.ACTIVE, view.status_reason
    cleanup.append(role_name(grantee, sub.request_id))
    return view


def finding(report: ReconcileReport, handle: str) -> tuple[str, str]:
    found = [(f.kind, f.action) for f in report.findings if f.handle == handle]
    assert len(found) == 1, (handle, report.findings)
    return found[0]


async def test_reconcile_removes_orphans_and_never_touches_foreign_roles(
    stack: Stack, pg_server: PgServer, cleanup: list[str]
) -> None:
    # A live request, granted for real through the worker.
    live = await granted(stack, "erin@example.com", cleanup)
    live_role = cleanup[-1]

    orphan_id = rid()
    orphan = role_name("zed@example.com", orphan_id)
    stack.store.upsert_request(finished_request(orphan_id, "zed@example.com", AccessStatus.REVOKED))
    foreign, lookalike, outside = "gf_legacy_reporting", f"gf_mallory_{rid()}", f"reporting_{rid()}"
    for name in (orphan, foreign, lookalike, outside):
        create_role(pg_server, name)
        cleanup.append(name)

    dry = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=True)
    assert finding(dry, orphan) == ("orphan", "would_revoke")
    assert {orphan, foreign, lookalike, live_role} <= roles(pg_server)

    report = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=False)
    assert finding(report, orphan) == ("orphan", "revoked")
    assert finding(report, foreign) == ("unmanaged", "left_alone")
    assert finding(report, lookalike) == ("unmanaged", "left_alone")
    assert not [f for f in report.findings if f.handle in (live_role, outside)]
    assert report.in_step >= 1 and "pg" in report.listed and "files" in report.not_listable
    left = roles(pg_server)
    assert orphan not in left
    assert {foreign, lookalike, outside, live_role} <= left

    trail = [e for e in stack.store.audit() if e.actor == RECONCILE_ACTOR]
    revoked = [e for e in trail if e.action == "reconcile_orphan" and e.outcome == "ok"]
    assert [e.request_id for e in revoked] == [orphan_id]
    assert revoked[0].detail["handle"] == orphan
    assert any(e.action == "reconcile_unmanaged" and e.detail["handle"] == foreign for e in trail)
    channels = {c for c, text in stack.notifier.announcements if orphan in text and foreign in text}
    assert channels == {ADMIN_CHANNEL}

    # Terminating a request's workflow (instead of revoking) strands its grant: the next run removes it.
    await stack.temporal.get_workflow_handle(live.workflow_id).terminate("operator mistake")
    again = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=False)
    kind, action = finding(again, live_role)
    assert (kind, action) == ("orphan", "revoked")
    assert "TERMINATED" in next(f.detail for f in again.findings if f.handle == live_role)
    assert live_role not in roles(pg_server)
    assert {foreign, lookalike, outside} <= roles(pg_server)


async def test_schedule_apply_is_idempotent(stack: Stack) -> None:
    first = await apply_schedules(stack.temporal, stack.settings.task_queue, timedelta(minutes=30))
    second = await apply_schedules(stack.temporal, stack.settings.task_queue, timedelta(minutes=20))
    assert [a.created for a in first + second] in ([True, False], [False, False])
    handle = stack.temporal.get_schedule_handle(SCHEDULE_ID)
    try:
        desc = await eventually(handle.describe, lambda d: d.schedule.spec.intervals[0].every == timedelta(minutes=20))
        assert desc.schedule.spec.intervals[0].every == timedelta(minutes=20)
        action = desc.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("ReconcileWorkflow", stack.settings.task_queue)
    finally:
        await handle.delete()


async def test_cli_dry_run_prints_findings_and_changes_nothing(
    stack: Stack, pg_server: PgServer, cleanup: list[str]
) -> None:
    orphan_id = rid()
    orphan = role_name("yan@example.com", orphan_id)
    stack.store.upsert_request(finished_request(orphan_id, "yan@example.com", AccessStatus.EXPIRED))
    create_role(pg_server, orphan)
    cleanup.append(orphan)

    text = await grantflow(stack, "reconcile", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert f"orphan      would_revoke  pg:{orphan} [{orphan_id}]" in text.stdout.decode()
    as_json = await grantflow(stack, "reconcile", "--dry-run", "--json")
    report = ReconcileReport.model_validate_json(as_json.stdout)
    assert report.dry_run and finding(report, orphan) == ("orphan", "would_revoke")
    assert orphan in roles(pg_server)


async def test_reconcile_takes_away_a_grant_whose_running_workflow_has_not_revoked_it(
    stack: Stack, pg_server: PgServer, cleanup: list[str]
) -> None:
    """A workflow that stopped moving (a workflow task that keeps failing, e.g. a history the SDK cannot replay:
    CHANGELOG.md, Known problems) never revokes. Here a live request's index row says its access ended 20
    minutes ago while its workflow still runs, as the index of such a workflow would: the role is removed as
    `overdue`, and an in-time request beside it is left alone."""
    made = [await granted(stack, grantee, cleanup) for grantee in ("erin@example.com", "frank@example.com")]
    late, on_time = made
    late_role, on_time_role = cleanup[-2:]
    ended = datetime.now(UTC) - timedelta(minutes=20)
    stack.store.upsert_request(late.model_copy(update={"expires_at": ended}))
    try:
        dry = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=True)
        assert finding(dry, late_role) == ("overdue", "would_revoke")
        assert late_role in roles(pg_server)

        report = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=False)
        assert finding(report, late_role) == ("overdue", "revoked")
        detail = next(f.detail for f in report.findings if f.handle == late_role)
        assert "still running" in detail and "20 min ago" in detail, detail
        assert not [f for f in report.findings if f.handle == on_time_role]
        assert late_role not in roles(pg_server) and on_time_role in roles(pg_server)
        trail = [e for e in stack.store.audit(request_id=late.request_id) if e.actor == RECONCILE_ACTOR]
        assert [(e.action, e.outcome, e.detail["action"], e.detail["handle"]) for e in trail] == [
            ("reconcile_overdue", "info", "would_revoke", late_role),  # the dry run
            ("reconcile_overdue", "ok", "revoked", late_role),
        ]
        assert any(late_role in text and "overdue" in text for _, text in stack.notifier.announcements)

        # Extended meanwhile (the index has moved the end): the removal re-checks and leaves the grant alone.
        stack.store.upsert_request(on_time.model_copy(update={"expires_at": ended}))
        dry = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=True)
        assert finding(dry, on_time_role) == ("overdue", "would_revoke")
        stack.store.upsert_request(on_time)
        again = await run_reconcile_once(stack.temporal, stack.settings.task_queue, dry_run=False)
        assert not [f for f in again.findings if f.handle == on_time_role]
        assert on_time_role in roles(pg_server)
    finally:
        for view in made:
            await stack.temporal.get_workflow_handle(view.workflow_id).terminate("test over")
