"""`classify` and overdue grants: a grant whose request's workflow still runs but whose access ended more than
OVERDUE_AFTER ago is `overdue` (removed like an orphan); before that, or for a request that is not ACTIVE or
REVOKING, or has no expiry yet, it is in step. Whatever the timing, a held grant gets exactly one verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from grantflow.domain.models import AccessStatus
from grantflow.domain.reconcile import OVERDUE_AFTER, HeldGrant, Inventory, RequestFacts, classify

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RID = "late000000000000"
ROLE = "gf_alice_late000000000000"


def inventory(status: str, running: bool, expires_at: datetime | None) -> Inventory:
    return Inventory(
        checked_at=NOW,
        listed=["pg"],
        held=[HeldGrant(integration="pg", handle=ROLE, request_id=RID)],
        requests=[
            RequestFacts(
                request_id=RID,
                grantee="alice@example.com",
                store_status=status,
                workflow_state="RUNNING" if running else "TERMINATED",
                workflow_running=running,
                handles={"pg": ROLE},
                expires_at=expires_at,
            )
        ],
    )


def test_a_running_request_past_its_end_by_more_than_the_grace_is_overdue() -> None:
    ended = NOW - OVERDUE_AFTER - timedelta(minutes=5)
    findings, in_step = classify(inventory("ACTIVE", True, ended), dry_run=True)
    assert in_step == 0
    assert [(f.kind, f.handle, f.request_id, f.action) for f in findings] == [("overdue", ROLE, RID, "would_revoke")]
    assert "20 min ago" in findings[0].detail and "still running" in findings[0].detail
    findings, _ = classify(inventory("REVOKING", True, ended), dry_run=False)
    assert [(f.kind, f.action) for f in findings] == [("overdue", "revoked")]


def test_within_the_grace_or_without_an_expiry_it_is_in_step() -> None:
    for expires_at in (NOW - OVERDUE_AFTER + timedelta(seconds=1), NOW + timedelta(hours=1), None):
        findings, in_step = classify(inventory("ACTIVE", True, expires_at), dry_run=False)
        assert (findings, in_step) == ([], 1), expires_at


@given(
    status=st.sampled_from([s.value for s in AccessStatus]),
    running=st.booleans(),
    offset=st.one_of(st.none(), st.integers(min_value=-3 * 86400, max_value=3 * 86400)),
    dry_run=st.booleans(),
)
def test_each_held_grant_gets_one_verdict(status: str, running: bool, offset: int | None, dry_run: bool) -> None:
    expires_at = None if offset is None else NOW + timedelta(seconds=offset)
    findings, in_step = classify(inventory(status, running, expires_at), dry_run=dry_run)
    mine = [f for f in findings if f.handle == ROLE]
    assert len(mine) + in_step == 1
    late = offset is not None and -offset > OVERDUE_AFTER.total_seconds()
    overdue = running and status in ("ACTIVE", "REVOKING") and late
    assert [f.kind for f in mine] == (["overdue"] if overdue else [] if running else ["orphan"])
    for f in mine:
        assert f.action == ("would_revoke" if dry_run else "revoked")
