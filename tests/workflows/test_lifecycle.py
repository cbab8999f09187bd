"""Every transition of AccessRequestWorkflow on the time-skipping server, with the script integration."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from grantflow.client import Refused
from grantflow.domain.models import RequestSpec
from tests.workflows.conftest import Harness, config_with, make_harness, published, record_history, settle


def spec(
    h: Harness,
    requester: str = "alice@example.com",
    resources: tuple[str, ...] = ("alpha",),
    permission: str = "read",
    duration: str = "1h",
    **kw: str,
) -> RequestSpec:
    return h.client.build_spec(
        requester=requester,
        integration="files",
        resource_type="folder",
        resources=list(resources),
        permission=permission,
        duration=duration,
        justification=kw.pop("justification", "investigating an incident"),
        **kw,
    )


def effect(h: Harness, resource: str, grantee: str, request_id: str) -> Path:
    return h.state_dir / "files" / resource / f"{grantee}.{request_id}"


async def signal(h: Harness, request_id: str, name: str, payload: object) -> None:
    await h.env.client.get_workflow_handle(f"access-request-{request_id}").signal(name, payload)


async def audit(h: Harness, request_id: str, until: str | None = None) -> list[tuple[str, str, str]]:
    for _ in range(100):
        rows = [(e.action, e.outcome, e.reason) for e in h.store.audit(request_id=request_id)]
        if until is None or any(a == until for a, _, _ in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {until} in audit: {rows}")


async def test_approved_request_is_granted_then_expires_and_is_revoked(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    await settle(h, sub.request_id, {"PENDING_APPROVAL"})
    await signal(h, sub.request_id, "approve", {"approver": "bob@example.com", "comment": "ok"})
    view = await settle(h, sub.request_id, {"ACTIVE"})
    assert view["approvals"][0]["approver"] == "bob@example.com"
    assert effect(h, "alpha", "alice@example.com", sub.request_id).exists()
    assert view["expires_at"] is not None
    view = await settle(h, sub.request_id, {"EXPIRED"}, max_skip=3 * 3600)
    assert not effect(h, "alpha", "alice@example.com", sub.request_id).exists()
    assert [c.split()[0] for c in h.calls()] == ["grant", "revoke"]
    actions = [a for a, _, _ in await audit(h, sub.request_id, until="expired")]
    assert actions[:3] == ["request", "approve", "grant"]
    assert {"revoke", "expired"} <= set(actions)
    row = h.store.get_request(sub.request_id)
    assert row is not None and row.status.value == "EXPIRED"
    await published(h, sub.request_id, "expired")
    assert h.notifier.kinds(sub.request_id)[0] == "submitted"


async def test_automatic_approval_when_zero_approvals_required(h: Harness) -> None:
    s = h.client.build_spec(
        requester="erin@example.com",
        integration="files",
        resource_type="folder",
        resources=["gamma"],
        permission="read",
        duration="2h",
    )
    sub = await h.client.submit(s)
    view = await settle(h, sub.request_id, {"ACTIVE"})
    assert view["approvals_required"] == 0
    rows = await audit(h, sub.request_id, until="grant")
    assert ("approve", "ok", "automatic approval (approvals_required: 0)") in rows


async def test_reject_with_reason(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    await settle(h, sub.request_id, {"PENDING_APPROVAL"})
    await signal(h, sub.request_id, "reject", {"approver": "carol@example.com", "reason": "use staging"})
    view = await settle(h, sub.request_id, {"REJECTED"})
    assert view["status_reason"] == "rejected by carol@example.com: use staging"
    assert view["rejected_by"] == "carol@example.com"
    assert h.calls() == []


async def test_approval_times_out_after_seven_days_with_reminders(
    time_env: WorkflowEnvironment, tmp_path: Path, state_dir: Path
) -> None:
    """A flow's own `approval_reminder` (5h, not a divisor of the 7-day time-out): a reminder every 5 hours of
    waiting, 33 in all (5h ... 165h), then the time-out at 168h, with no reminder at the end."""
    config = config_with(tmp_path / "config", "read-folders", approval_reminder="5h")
    async for h in make_harness(time_env, tmp_path, state_dir, config):
        sub = await h.client.submit(spec(h))
        view = await settle(h, sub.request_id, {"FAILED"}, max_skip=7 * 86400 + 3600, timeout=90)
        assert view["status_reason"] == "approval timed out"
        await published(h, sub.request_id, "approval_timeout")
        assert h.notifier.kinds(sub.request_id).count("approval_reminder") == 33
        events = h.store.audit(request_id=sub.request_id)
        start = next(e.at for e in events if e.action == "request")
        reminders = [e.at - start for e in events if e.action == "approval_reminder"]
        assert [round(r / timedelta(hours=1)) for r in reminders] == list(range(5, 166, 5))
        ended = next(e.at for e in events if e.action == "approval_timeout")
        assert round((ended - start) / timedelta(hours=1)) == 168
        assert h.calls() == []


async def test_two_approvals_and_refused_messages_leave_the_workflow_healthy(h: Harness) -> None:
    s = spec(h, permission="write")
    sub = await h.client.submit(s)
    rid = sub.request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    await signal(h, rid, "approve", {"approver": "mallory@example.com"})  # not an approver
    await signal(h, rid, "approve", {"approver": "alice@example.com"})  # the requester
    await signal(h, rid, "approve", {"who": "bob"})  # malformed
    await signal(h, rid, "approve", "bob@example.com")  # not an object
    await signal(h, rid, "approve", {"approver": "x" * 100_000})  # huge
    await signal(h, rid, "extend", {"actor": "alice@example.com"})  # wrong state
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await signal(h, rid, "approve", {"approver": "bob@example.com"})  # twice
    view = await settle(h, rid, {"PENDING_APPROVAL"})
    # A second refusal of the same actor within a minute is counted, and summarised when the minute is over.
    await h.env.sleep(61)
    rows = await audit(h, rid, until="extend")
    refused = [r for a, o, r in rows if o == "refused"]
    assert "mallory@example.com is not an approver for this flow" in refused
    assert "you cannot approve your own request" in refused
    assert any(r.startswith("malformed approve payload: approver") for r in refused)
    assert (
        "and 1 more refused in the last minute (last: malformed approve payload: payload: "
        "Input should be a valid dictionary or instance of ApprovePayload)" in refused
    )
    assert "and 1 more refused in the last minute (last: the request is PENDING_APPROVAL, not ACTIVE)" in refused
    for _ in range(50):
        view = await h.client.status(rid)
        if len(view.approvals) == 1 and any("already approved" in r for _, _, r in await audit(h, rid)):
            break
        await asyncio.sleep(0.05)
    assert [a.approver for a in view.approvals] == ["bob@example.com"]
    assert any("bob@example.com has already approved" in r for _, _, r in await audit(h, rid))
    await signal(h, rid, "approve", {"approver": "erin@example.com", "comment": "second"})
    final = await settle(h, rid, {"ACTIVE"})
    assert len(final["approvals"]) == 2


async def test_a_flood_of_refusals_is_recorded_once_a_minute_per_actor_and_counted(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await settle(h, rid, {"PENDING_APPROVAL"})
    handle = h.env.client.get_workflow_handle(f"access-request-{rid}")
    floods = [("approve", {"approver": "mallory@example.com"})] * 40 + [("approve", {"who": "x"})] * 30
    floods += [("reject", {"approver": f"intruder{i}@example.com"}) for i in range(25)]
    for name, payload in floods:
        await handle.signal(name, payload)
    await h.env.sleep(61)
    rows = [e for e in h.store.audit(request_id=rid) if e.outcome == "refused"]
    for _ in range(100):
        rows = [e for e in h.store.audit(request_id=rid) if e.outcome == "refused"]
        if sum(e.detail.get("suppressed", 1) for e in rows) >= len(floods):
            break
        await asyncio.sleep(0.05)
    recorded = [e for e in rows if "suppressed" not in e.detail]
    summaries = {e.actor: e for e in rows if "suppressed" in e.detail}
    assert len(recorded) + sum(e.detail["suppressed"] for e in summaries.values()) == len(floods), "none lost"
    assert [e.actor for e in recorded].count("mallory@example.com") == 1
    assert summaries["mallory@example.com"].reason == (
        "and 39 more refused in the last minute (last: mallory@example.com is not an approver for this flow)"
    )
    assert [e.actor for e in recorded].count("unknown") == 1
    assert summaries["unknown"].detail["suppressed"] == 29
    # 20 windows in a minute (mallory, unknown, 18 intruders); the other 7 intruders share one more, whose
    # first refusal is recorded and the rest counted.
    assert len({e.actor for e in recorded if e.actor.startswith("intruder")}) == 19
    assert summaries["(other actors)"].detail["suppressed"] == 6
    assert len(rows) == 1 + 1 + 19 + 3, [(e.actor, e.reason) for e in rows]
    # A new minute: the next refusal is recorded again.
    await handle.signal("approve", {"approver": "mallory@example.com"})
    for _ in range(100):
        again = [e for e in h.store.audit(request_id=rid) if e.actor == "mallory@example.com"]
        if len(again) == 3:
            break
        await asyncio.sleep(0.05)
    assert [("suppressed" in e.detail) for e in again] == [False, True, False]
    assert (await h.client.status(rid)).status.value == "PENDING_APPROVAL"


async def test_expiry_reminder_extensions_up_to_the_limit(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    first = await settle(h, rid, {"ACTIVE"})
    await h.env.sleep(46 * 60)  # past the 15-minute reminder point of a 1h grant
    for _ in range(100):
        if (await h.client.status(rid)).extension_offered:
            break
        await asyncio.sleep(0.05)
    assert (await h.client.status(rid)).extension_offered
    await published(h, rid, "expiry_reminder")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await signal(h, rid, "extend", {"actor": "alice@example.com"})  # over max_extensions: 2
    await signal(h, rid, "extend", {"actor": "dan@example.com"})  # neither requester nor grantee
    rows = await audit(h, rid, until="extend")
    for _ in range(100):
        rows = await audit(h, rid)
        if sum(1 for a, o, _ in rows if a == "extend" and o == "refused") == 2:
            break
        await asyncio.sleep(0.05)
    view = await h.client.status(rid)
    assert view.extensions_used == 2
    assert view.expires_at is not None
    assert view.expires_at - datetime.fromisoformat(first["expires_at"]) == timedelta(hours=2)
    reasons = [r for a, o, r in rows if a == "extend" and o == "refused"]
    assert "the extension limit (2) is reached" in reasons
    assert any("may not extend" in r for r in reasons)
    await published(h, rid, "extended")
    assert any(c.startswith("extend ") for c in h.calls())
    await settle(h, rid, {"EXPIRED"}, max_skip=4 * 3600)
    await record_history(h, rid, "extended_then_expired")


async def test_revoke_while_active(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"ACTIVE"})
    await signal(h, rid, "revoke", {"actor": "mallory@example.com"})  # refused
    await signal(h, rid, "revoke", {"actor": "alice@example.com", "reason": "done early"})
    view = await settle(h, rid, {"REVOKED"})
    assert view["status_reason"] == "revoked by alice@example.com: done early"
    assert not effect(h, "alpha", "alice@example.com", rid).exists()
    rows = await audit(h, rid)
    assert any(a == "revoke" and o == "refused" and "mallory" in r for a, o, r in rows)


async def test_withdraw_while_pending(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    await settle(h, sub.request_id, {"PENDING_APPROVAL"})
    await signal(h, sub.request_id, "revoke", {"actor": "alice@example.com"})
    view = await settle(h, sub.request_id, {"REVOKED"})
    assert view["status_reason"] == "withdrawn by alice@example.com"
    assert h.calls() == []


async def test_revoke_during_granting(h: Harness) -> None:
    """The grant is held (the fixture script waits on `grant-held`) until the revoke is in while GRANTING."""
    held = h.state_dir / "grant-held"
    held.write_text("held")
    sub = await h.client.submit(spec(h, resources=("slow",)))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"GRANTING"})
    for _ in range(200):
        if any(c.startswith("grant ") for c in h.calls()):
            break
        await asyncio.sleep(0.05)
    assert [c.split()[0] for c in h.calls()] == ["grant"], "the grant is running"
    await signal(h, rid, "revoke", {"actor": "ops@example.com", "reason": "wrong person"})
    for _ in range(200):
        during = await h.client.status(rid)
        if during.revoked_by:
            break
        await asyncio.sleep(0.05)
    assert during.status.value == "GRANTING" and during.revoked_by == "ops@example.com", during
    held.unlink()
    view = await settle(h, rid, {"REVOKED"}, timeout=30)
    assert view["revoked_by"] == "ops@example.com"
    assert [c.split()[0] for c in h.calls()] == ["grant", "revoke"]
    assert not effect(h, "slow", "alice@example.com", rid).exists()


async def test_partial_grant_failure_is_compensated(h: Harness) -> None:
    sub = await h.client.submit(spec(h, resources=("alpha", "broken")))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    view = await settle(h, rid, {"FAILED"}, timeout=60)
    assert "grant failed: files/folder:broken (read)" in view["status_reason"]
    assert "the folder is broken" in view["status_reason"]
    calls = [c.split()[:3] for c in h.calls()]
    assert ["revoke", "alice@example.com", "alpha"] in calls
    assert ["revoke", "alice@example.com", "broken"] not in calls
    assert not effect(h, "alpha", "alice@example.com", rid).exists()
    await record_history(h, rid, "partial_grant_failure")


async def test_revoke_retries_until_the_target_is_back(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    await settle(h, rid, {"ACTIVE"})
    blocker = h.state_dir / "revoke-blocked"
    blocker.write_text("down")
    await signal(h, rid, "revoke", {"actor": "alice@example.com"})
    for _ in range(300):
        view = await h.client.status(rid)
        if "retrying" in view.status_reason:
            break
        await asyncio.sleep(0.1)
    assert view.status.value == "REVOKING"
    assert "revoke of files/folder:alpha (read) failed, retrying" in view.status_reason
    assert "target unavailable" in view.status_reason
    os.unlink(blocker)
    await settle(h, rid, {"REVOKED"}, max_skip=600, timeout=60)
    assert not effect(h, "alpha", "alice@example.com", rid).exists()
    await record_history(h, rid, "revoke_retried")


async def test_idempotent_submission(h: Harness) -> None:
    s = spec(h)
    a = await h.client.submit(s, idempotency_key="view-123")
    b = await h.client.submit(s, idempotency_key="view-123")
    assert a.request_id == b.request_id and not a.existing and b.existing
    c = await h.client.submit(s, idempotency_key="view-124")
    assert c.request_id != a.request_id


async def test_policy_refusals_at_submit_start_nothing(h: Harness) -> None:
    with pytest.raises(Refused, match="a justification is required"):
        spec(h, justification="")
    with pytest.raises(Refused, match="over the flow's maximum"):
        spec(h, duration="9h")
    with pytest.raises(Refused, match="is not a requestor in any access flow"):
        spec(h, requester="nobody@example.com")


async def wait_reason(h: Harness, rid: str, text: str, step: float = 5) -> None:
    """Skip a few seconds at a time (the extend activity's retries back off) until status_reason has `text`."""
    for _ in range(60):
        if text in (await h.client.status(rid)).status_reason:
            return
        await h.env.sleep(step)
    raise AssertionError(f"status_reason never said {text!r}: {(await h.client.status(rid)).status_reason!r}")


async def test_failed_extension_keeps_the_old_expiry_and_is_told(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    first = await settle(h, rid, {"ACTIVE"})
    expires = datetime.fromisoformat(first["expires_at"])
    (h.state_dir / "extend-blocked").write_text("no")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await wait_reason(h, rid, "extension failed")
    view = await h.client.status(rid)
    assert view.status.value == "ACTIVE"
    assert view.expires_at == expires, "access ends when the target says it ends"
    assert view.extensions_used == 0, "a failed extension is not counted"
    assert view.extension_offered, "the extension can be asked for again"
    assert view.status_reason.startswith("extension failed: files/folder:alpha (read): ")
    assert view.status_reason.endswith(
        f": the target refuses to extend; access still ends at {expires:%Y-%m-%d %H:%M} UTC"
    )
    assert sum(1 for c in h.calls() if c.startswith("extend ")) == 5, "every retry was tried"
    await published(h, rid, "extend_failed")
    told = next(t for t in h.notifier.transitions if t.kind == "extend_failed")
    assert told.status.expires_at == expires and told.events[-1].action == "extend_failed"
    assert "extended" not in h.notifier.kinds(rid)
    final = await settle(h, rid, {"EXPIRED"}, max_skip=2 * 3600)
    ended = datetime.fromisoformat(final["ended_at"])
    assert expires <= ended < expires + timedelta(minutes=1), (expires, ended)
    assert final["extensions_used"] == 0
    assert not effect(h, "alpha", "alice@example.com", rid).exists()


async def test_extension_after_a_failed_one_still_works(h: Harness) -> None:
    sub = await h.client.submit(spec(h))
    rid = sub.request_id
    await signal(h, rid, "approve", {"approver": "bob@example.com"})
    first = await settle(h, rid, {"ACTIVE"})
    expires = datetime.fromisoformat(first["expires_at"])
    blocker = h.state_dir / "extend-blocked"
    blocker.write_text("no")
    await signal(h, rid, "extend", {"actor": "alice@example.com"})
    await wait_reason(h, rid, "extension failed")
    blocker.unlink()
    view = await h.client.extend(rid, "alice@example.com")
    for _ in range(100):
        view = await h.client.status(rid)
        if "extended" in h.notifier.kinds(rid):
            break
        await asyncio.sleep(0.05)
    assert view.extensions_used == 1
    assert view.expires_at == expires + timedelta(hours=1)
    assert view.status_reason == ""
    await published(h, rid, "extended")
