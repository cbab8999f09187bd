"""`classify` on grants that are grantflow's by where they live (AWS assignments of managed permission sets):
held by a live request -> in step; by a request whose workflow is over, or by none -> orphan (never
`unmanaged`); a name-based grant (PostgreSQL) with no request stays `unmanaged`, as before."""

from __future__ import annotations

from datetime import UTC, datetime

from grantflow.domain.reconcile import HeldGrant, Inventory, RequestFacts, classify

LIVE, OVER = "live000000000000", "over000000000000"


def inventory() -> Inventory:
    return Inventory(
        checked_at=datetime(2026, 12, 3, tzinfo=UTC),
        listed=["aws", "pg"],
        held=[
            HeldGrant(integration="aws", handle="111111111111/GrantflowReadOnly/u-live", request_id=LIVE, managed=True),
            HeldGrant(integration="aws", handle="111111111111/GrantflowAdmin/u-live", request_id=LIVE, managed=True),
            HeldGrant(integration="aws", handle="222222222222/GrantflowReadOnly/u-over", request_id=OVER, managed=True),
            HeldGrant(integration="aws", handle="222222222222/GrantflowAdmin/u-byhand", managed=True),
            HeldGrant(integration="pg", handle="gf_someone_else"),
        ],
        requests=[
            RequestFacts(
                request_id=LIVE,
                grantee="bob@example.com",
                store_status="ACTIVE",
                workflow_state="RUNNING",
                workflow_running=True,
                handles={"aws": "111111111111/GrantflowAdmin/u-live"},
            ),
            RequestFacts(
                request_id=OVER,
                grantee="carol@example.com",
                store_status="ACTIVE",
                workflow_state="TERMINATED",
                workflow_running=False,
                handles={"aws": "222222222222/GrantflowReadOnly/u-over"},
            ),
        ],
    )


def test_managed_grants_are_in_step_or_orphans_never_unmanaged() -> None:
    findings, in_step = classify(inventory(), dry_run=True)
    assert in_step == 2  # both items of the live request, whatever `handles` names
    assert sorted((f.kind, f.handle, f.request_id, f.action) for f in findings) == [
        ("orphan", "222222222222/GrantflowAdmin/u-byhand", "", "would_revoke"),
        ("orphan", "222222222222/GrantflowReadOnly/u-over", OVER, "would_revoke"),
        ("unmanaged", "gf_someone_else", "", "left_alone"),
    ]
    findings, _ = classify(inventory(), dry_run=False)
    assert {f.action for f in findings if f.kind == "orphan"} == {"revoked"}
