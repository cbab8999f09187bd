"""Break-glass approval: an admin may approve any request with a reason (flagged in the audit trail and
announced to the flow's approvers); anyone else is refused, by update (CLI) and by raw signal alike, and
the refusal is recorded."""

from __future__ import annotations

from collections.abc import Callable

from activities.notifiers.console import messages
from grantflow.domain.models import AccessStatus, AuditEvent
from tests.operations.cli import grantflow
from tests.operations.conftest import Stack, eventually

REASON = "orders DB down, bob and carol unreachable"


async def pending(stack: Stack) -> str:
    spec = stack.client.build_spec(
        requester="alice@example.com",
        integration="files",
        resource_type="folder",
        resources=["alpha"],
        permission="read",
        duration="1h",
        justification="incident",
    )
    return (await stack.client.submit(spec)).request_id


async def audit_of(stack: Stack, rid: str, done: Callable[[list[AuditEvent]], bool]) -> list[AuditEvent]:
    return await eventually(lambda: _audit(stack, rid), done)


async def _audit(stack: Stack, rid: str) -> list[AuditEvent]:
    return stack.store.audit(request_id=rid)


async def test_admin_break_glass_from_the_cli_is_flagged_and_announced(stack: Stack) -> None:
    rid = await pending(stack)
    no_reason = await grantflow(stack, "approve", rid, "--as", "ops@example.com", "--break-glass")
    assert no_reason.returncode == 2 and b"--reason" in no_reason.stderr

    done = await grantflow(stack, "approve", rid, "--as", "ops@example.com", "--break-glass", "--reason", REASON)
    assert done.returncode == 0, done.stderr
    view = await stack.client.wait_for(rid, {AccessStatus.ACTIVE})
    assert view.status == AccessStatus.ACTIVE
    assert [(a.approver, a.break_glass) for a in view.approvals] == [("ops@example.com", True)]

    events = await audit_of(stack, rid, lambda ev: any(e.action == "grant" for e in ev))
    approvals = [e for e in events if e.action == "approve"]
    assert [(e.actor, e.outcome, e.reason, e.detail.get("break_glass")) for e in approvals] == [
        ("ops@example.com", "ok", REASON, True)
    ]

    def told() -> dict[str, str]:
        return {
            to: text
            for t in stack.notifier.transitions
            if t.status.request_id == rid
            for to, text in messages(t)
            if "BREAK-GLASS" in text
        }

    async def probe() -> dict[str, str]:
        return told()

    announced = await eventually(probe, lambda d: len(d) == 2)
    assert set(announced) == {"bob@example.com", "carol@example.com"}
    assert all("ops@example.com" in text and REASON in text for text in announced.values())


async def test_break_glass_by_a_non_admin_is_refused_and_recorded(stack: Stack) -> None:
    rid = await pending(stack)
    refused = await grantflow(stack, "approve", rid, "--as", "bob@example.com", "--break-glass", "--reason", "x")
    assert refused.returncode == 2 and b"not an admin" in refused.stderr

    handle = stack.temporal.get_workflow_handle(f"access-request-{rid}")
    # The same attempt as a raw signal (`temporal workflow signal --name approve --input ...`).
    await handle.signal("approve", {"approver": "carol@example.com", "break_glass": True, "reason": "trust me"})
    await handle.signal("approve", {"approver": "ops@example.com", "break_glass": True, "reason": "  "})

    events = await audit_of(stack, rid, lambda ev: sum(e.outcome == "refused" for e in ev) >= 3)
    refusals = [(e.actor, e.reason) for e in events if e.action == "approve" and e.outcome == "refused"]
    assert ("bob@example.com", "bob@example.com is not an admin: break-glass approval is for admins only") in refusals
    assert (
        "carol@example.com",
        "carol@example.com is not an admin: break-glass approval is for admins only",
    ) in refusals
    assert ("ops@example.com", "a break-glass approval needs a reason") in refusals
    view = await stack.client.status(rid)
    assert view.status == AccessStatus.PENDING_APPROVAL and view.approvals == []
    await stack.client.revoke(rid, "alice@example.com", "cleanup")
