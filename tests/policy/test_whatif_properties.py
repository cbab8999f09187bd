"""`who_can` and `simulate` (grantflow/domain/whatif.py) against the independent statement of the rules in
test_policy_properties.py (`eligible_flows`), on the same generated configs and requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grantflow.domain.config import GrantflowConfig
from grantflow.domain.models import AccessStatus, GrantItem, RequestSpec, StatusView
from grantflow.domain.policy import decide
from grantflow.domain.whatif import Change, recorded_outcome, simulate, who_can
from tests.policy.test_policy_properties import (
    EMAILS,
    FAST,
    catalog_items,
    config_data,
    draw_request,
    eligible_flows,
    norm,
    one,
)

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def self_request(person: str, item: GrantItem, seconds: int) -> RequestSpec:
    return RequestSpec(requester=person, grantee=person, items=[item], duration_seconds=seconds, justification="x")


def durations(cfg: GrantflowConfig) -> list[int]:
    """Every flow's maximum, a second either side: where the flows that fit change."""
    return sorted({d for f in cfg.access_flows for d in (f.max_duration - 1, f.max_duration, f.max_duration + 1)})


@settings(FAST, max_examples=60)
@given(config_data(), st.data())
def test_who_can_is_what_the_rules_allow(data: dict[str, Any], choice: st.DataObject) -> None:
    cfg = GrantflowConfig.model_validate(data)
    item = one(choice.draw, catalog_items(cfg))
    answer = who_can(cfg, item.integration, item.resource_type, item.resource, item.permission)
    listed = {r.person: r for r in answer}
    assert all(r.permission == item.permission for r in answer)
    for person in EMAILS:
        # The rules, at every duration where the answer can change: the longest allowed, and through which flow.
        allowed = [d for d in durations(cfg) if d > 0 and eligible_flows(cfg, self_request(person, item, d))]
        if person not in listed:
            assert not allowed, f"{person} may request {item.label()} but is not listed"
            continue
        r = listed[person]
        assert r.max_duration_seconds == max(allowed, default=0)
        lower = 0
        for path in r.paths:
            assert path.up_to_seconds > lower
            for d in {lower + 1, path.up_to_seconds}:
                eligible = eligible_flows(cfg, self_request(person, item, d))
                assert path.allowed == bool(eligible), (person, d, path)
                if eligible:
                    best = min(f.approvals_required for f in eligible)
                    assert path.approvals_required == best
                    assert path.flow_id in {f.id for f in eligible if f.approvals_required == best}
                    assert person not in path.approvers
                    assert path.automatic == (best == 0)
            lower = path.up_to_seconds


def recorded(cfg: GrantflowConfig, spec: RequestSpec, n: int) -> StatusView:
    """The index's view of a request decided under `cfg`, as the workflow writes it."""
    d = decide(cfg, spec)
    return StatusView(
        request_id=f"r{n}",
        workflow_id=f"access-request-r{n}",
        status=AccessStatus.PENDING_APPROVAL if d.allowed else AccessStatus.FAILED,
        status_reason="" if d.allowed else f"policy: {d.reason}",
        requester=spec.requester,
        grantee=spec.grantee,
        grants=spec.items,
        bundle=spec.bundle,
        justification=spec.justification,
        duration_seconds=spec.duration_seconds,
        flow_id=d.flow_id,
        flow_name=d.flow_name,
        approvers=d.approvers,
        approvals_required=d.approvals_required,
        submitted_at=AT,
    )


@settings(FAST, max_examples=60)
@given(config_data(), config_data(), st.data())
def test_simulate_reports_each_change_the_rules_imply(old: dict[str, Any], new: dict[str, Any], choice: Any) -> None:
    before_cfg, after_cfg = GrantflowConfig.model_validate(old), GrantflowConfig.model_validate(new)
    specs = [draw_request(choice.draw, before_cfg) for _ in range(4)]
    views = [recorded(before_cfg, s, n) for n, s in enumerate(specs)]

    # The same config replays every request unchanged.
    assert not simulate(before_cfg, views).changed

    sim = simulate(after_cfg, views)
    assert len(sim.rows) == len(views)
    assert sum(sim.counts().values()) - sim.counts()["unchanged"] == sum(len(r.changes) for r in sim.rows)
    for spec, view, row in zip(specs, views, sim.rows, strict=True):
        was = bool(eligible_flows(before_cfg, spec))
        assert recorded_outcome(view).allowed == was
        # Under the new rules: allowed as asked, or only for a shorter time.
        now = eligible_flows(after_cfg, spec)
        shorter = [
            d
            for d in sorted({f.max_duration for f in after_cfg.access_flows}, reverse=True)
            if 0 < d < spec.duration_seconds
            and eligible_flows(after_cfg, spec.model_copy(update={"duration_seconds": d}))
        ]
        assert row.after.allowed == bool(now or (was and shorter))
        assert (Change.ALLOWED_TO_REFUSED in row.changes) == (was and not row.after.allowed)
        assert (Change.REFUSED_TO_ALLOWED in row.changes) == (not was and row.after.allowed)
        if was and row.after.allowed:
            assert (Change.MAX_DURATION_CUT in row.changes) == (not now)
            if not now:
                assert row.after.duration_seconds == shorter[0] < spec.duration_seconds
            automatic_before = view.approvals_required == 0
            automatic_after = row.after.approvals_required == 0
            assert (Change.AUTOMATIC_TO_MANUAL in row.changes) == (automatic_before and not automatic_after)
            assert (Change.MANUAL_TO_AUTOMATIC in row.changes) == (automatic_after and not automatic_before)
            if not automatic_before and not automatic_after:
                differs = (sorted(view.approvers), view.approvals_required) != (
                    list(row.after.approvers),
                    row.after.approvals_required,
                )
                assert (Change.APPROVERS_CHANGED in row.changes) == differs
            assert norm(spec.requester) not in row.after.approvers
        else:
            assert Change.MAX_DURATION_CUT not in row.changes


def test_approvers_added_by_escalation_are_not_a_change() -> None:
    cfg = GrantflowConfig.model_validate(
        {
            "groups": {"eng": ["u0@example.com"], "owners": ["u1@example.com", "u2@example.com"]},
            "integrations": [
                {
                    "id": "i0",
                    "type": "script",
                    "resource_types": [{"id": "t0", "resources": ["r0"], "permissions": ["p0"]}],
                    "grant": ["true"],
                    "revoke": ["true"],
                }
            ],
            "access_flows": [
                {
                    "id": "f0",
                    "requestors": ["group:eng"],
                    "grants": [{"integration": "i0", "permissions": ["p0"]}],
                    "approvers": ["group:owners"],
                    "escalation": [{"after": "4h", "approvers": ["user:u3@example.com"]}],
                }
            ],
        }
    )
    item = GrantItem(integration="i0", resource_type="t0", resource="r0", permission="p0")
    view = recorded(cfg, self_request("u0@example.com", item, 3600), 0)
    escalated = view.model_copy(
        update={"approvers": [*view.approvers, "u3@example.com"], "escalated_to": ["u3@example.com"]}
    )
    assert not simulate(cfg, [escalated]).changed
    # Without the record of the escalation, the extra approver would read as a changed decision.
    assert simulate(cfg, [escalated.model_copy(update={"escalated_to": []})]).changed[0].changes == (
        Change.APPROVERS_CHANGED,
    )
