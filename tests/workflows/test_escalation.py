"""Escalation on the time-skipping server: a flow's `escalation` steps add approvers while the request is still
pending, by the approval wait's timers (workflows/escalation.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from grantflow.client import Refused
from grantflow.domain.models import ApprovePayload
from tests.workflows.conftest import Harness, config_with, make_harness, published, settle
from tests.workflows.test_lifecycle import audit, spec

# read-folders: requested by the engineers (alice, carol, dan), approved by bob or carol; after 4h the seniors
# (erin, frank) are added, with a note to #access-escalations; after 30h ops as well.
ESCALATION = [
    {"after": "4h", "approvers": ["group:seniors"], "notify": "#access-escalations"},
    {"after": "30h", "approvers": ["user:ops@example.com", "group:seniors"]},
]


@pytest.fixture
async def h(time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path):  # type: ignore[no-untyped-def]
    config = config_with(tmp_path / "config", "read-folders", escalation=ESCALATION)
    async for harness in make_harness(time_env, tmp_path, state_dir, config):
        yield harness


async def approve(h: Harness, request_id: str, who: str) -> None:
    await h.env.client.get_workflow_handle(f"access-request-{request_id}").execute_update(
        "approve", ApprovePayload(approver=who).model_dump()
    )


async def test_escalation_after_4h_notifies_the_new_group_and_lets_it_approve(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    assert view["approvers"] == ["bob@example.com", "carol@example.com"] and view["escalated_to"] == []

    # Before the step, a senior is not an approver.
    with pytest.raises(WorkflowUpdateFailedError):
        await approve(h, rid, "erin@example.com")

    await h.env.sleep(4 * 3600 - 120)
    await asyncio.sleep(0.5)
    assert "escalated" not in h.notifier.kinds(rid)
    await h.env.sleep(180)
    await published(h, rid, "escalated")
    escalated = next(t for t in h.notifier.transitions if t.status.request_id == rid and t.kind == "escalated")
    assert escalated.status.escalated_to == ["erin@example.com", "frank@example.com"]
    assert escalated.status.approvers == [
        "bob@example.com",
        "carol@example.com",
        "erin@example.com",
        "frank@example.com",
    ]
    rows = await audit(h, rid, until="escalate")
    assert ("escalate", "info", "escalated to erin@example.com, frank@example.com") in rows
    event = next(e for e in h.store.audit(request_id=rid) if e.action == "escalate")
    assert event.detail == {
        "step": 1,
        "after_seconds": 4 * 3600,
        "approvers": ["erin@example.com", "frank@example.com"],
        "notify": "#access-escalations",
    }
    request = next(e for e in h.store.audit(request_id=rid) if e.action == "request")
    assert round((event.at - request.at) / timedelta(minutes=1)) == 240
    # The 4h step is not a reminder (the reminder is every 24h).
    assert "approval_reminder" not in h.notifier.kinds(rid)

    # The new approver's approval counts; the requester still cannot approve.
    with pytest.raises(WorkflowUpdateFailedError):
        await approve(h, rid, "alice@example.com")
    await approve(h, rid, "frank@example.com")
    view = await settle(h, rid, {"ACTIVE"})
    assert [a["approver"] for a in view["approvals"]] == ["frank@example.com"]
    assert view["escalated_to"] == ["erin@example.com", "frank@example.com"]


async def test_steps_add_only_new_people_and_a_decided_request_escalates_no_more(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    for _ in range(31):
        await h.env.sleep(3600)
    await published(h, rid, "approval_reminder")
    await audit(h, rid, until="approval_reminder")
    steps = [e for e in h.store.audit(request_id=rid) if e.action == "escalate"]
    for _ in range(100):
        steps = [e for e in h.store.audit(request_id=rid) if e.action == "escalate"]
        if len(steps) == 2:
            break
        await asyncio.sleep(0.05)
    assert [(e.detail["step"], e.detail["approvers"]) for e in steps] == [
        (1, ["erin@example.com", "frank@example.com"]),
        (2, ["ops@example.com"]),
    ]
    view = await h.env.client.get_workflow_handle(f"access-request-{rid}").query("status")
    assert view["escalated_to"] == ["erin@example.com", "frank@example.com", "ops@example.com"]
    # The reminder still fell on its 24h mark.
    reminder = next(e for e in h.store.audit(request_id=rid) if e.action == "approval_reminder")
    start = next(e for e in h.store.audit(request_id=rid) if e.action == "request")
    assert round((reminder.at - start.at) / timedelta(hours=1)) == 24

    with pytest.raises(Refused):
        await h.client.reject(rid, "mallory@example.com", "no")
    await h.client.reject(rid, "ops@example.com", "not now")
    view = await settle(h, rid, {"REJECTED"})
    assert view["rejected_by"] == "ops@example.com"


async def test_a_pending_request_says_when_it_escalates_and_to_whom(h: Harness) -> None:
    """The requester is never left guessing (issue 15.5): the status names the next step while pending."""
    rid = (await h.client.submit(spec(h))).request_id
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    from datetime import datetime

    submitted = datetime.fromisoformat(view["submitted_at"])
    assert datetime.fromisoformat(view["escalates_at"]) == submitted + timedelta(hours=4)
    assert view["escalates_to"] == ["erin@example.com", "frank@example.com"]
    await h.env.sleep(4 * 3600 + 60)
    await published(h, rid, "escalated")
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    assert datetime.fromisoformat(view["escalates_at"]) == submitted + timedelta(hours=30)
    assert view["escalates_to"] == ["ops@example.com"]
