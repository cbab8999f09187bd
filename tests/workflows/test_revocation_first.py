"""Revocation first (issue 14): a revocation never waits for a publish (Slack) past the expiry, and revoke
activities carry the highest task-queue priority. Time-skipping server, script integration."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from grantflow.domain.models import Transition
from tests.workflows.conftest import Harness, settle

SLACK_SECONDS = 4.5  # under the local publish's 5 s timeout: before, the whole call held the expiry back
DURATION = 3


async def _revoke_priorities(h: Harness, rid: str) -> list[int]:
    keys = []
    async for e in h.env.client.get_workflow_handle(f"access-request-{rid}").fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = e.activity_task_scheduled_event_attributes
            if a.activity_type.name == "revoke_item":
                keys.append(a.priority.priority_key)
    return keys


async def test_a_slow_publish_does_not_hold_back_the_expiry(h: Harness, state_dir: Path) -> None:
    original = h.notifier.notify

    async def slow_slack(transitions: list[Transition]) -> None:
        if any(t.kind == "active" for t in transitions):
            await asyncio.sleep(SLACK_SECONDS)
        await original(transitions)

    h.notifier.notify = slow_slack  # type: ignore[method-assign]
    spec = h.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration=str(DURATION),
        justification="investigating an incident",
    )
    rid = (await h.client.submit(spec)).request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    await h.client.approve(rid, "bob@example.com", "ok")
    view = await settle(h, rid, {"EXPIRED"}, timeout=60)
    # When the expiry timer fired, against the expiry: before, the timer was started only when the 4.5 s
    # publish begun at ACTIVE had ended (its command waits for the workflow task), so it fired ≥ 4.5 s late.
    fired = None
    async for e in h.env.client.get_workflow_handle(f"access-request-{rid}").fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            fired = e.event_time.ToDatetime().astimezone()
    assert fired is not None
    late = fired - datetime.fromisoformat(view["expires_at"])
    assert late < timedelta(seconds=2.5), f"the expiry timer fired {late} after the expiry"
    assert await _revoke_priorities(h, rid) == [1]
    # The held-back notification still arrives (through the durable publish).
    for _ in range(200):
        if "active" in h.notifier.kinds(rid) and "expired" in h.notifier.kinds(rid):
            break
        await asyncio.sleep(0.05)
    assert "active" in h.notifier.kinds(rid) and "expired" in h.notifier.kinds(rid)
