"""On-call approval: a request from the person on call for the flow's `auto_approve_if_oncall` schedule is
approved by grantflow, recorded as such; anyone else, or any failure to ask, goes to the flow's approvers.

The lookup is an activity (`OncallActivities.who_is_on_call`), so the answer is in history and replays after
the rotation moved on. A lookup that fails or times out never approves: the request waits for humans, and
the audit trail says why. No `workflow.patched` gate: the path is taken only for a policy decision that names
a schedule, which no decision recorded before this feature does.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.oncall import OncallActivities
    from grantflow.domain.models import Approval
    from grantflow.domain.policy import normalize_email
    from workflows.outbox import Outbox
    from workflows.state import RequestState

# The command's own timeout is at most 120 s (config); this bounds the whole lookup with its one retry.
LOOKUP_TIMEOUT = timedelta(minutes=5)
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2)


async def approve_if_on_call(s: RequestState, out: Outbox) -> bool:
    """True when grantflow approved the request because its requester is on call (and asks for themself)."""
    schedule = s.d.oncall_schedule
    if not schedule or s.d.approvals_required == 0:
        return False
    if s.submission_verified is False and s.d.decisions == "enforce":
        out.event("grantflow", "oncall_check", outcome="info", reason="unverified submission: humans approve")
        return False
    requester, grantee = normalize_email(s.spec.requester), normalize_email(s.spec.grantee)
    if requester != grantee:
        out.event("grantflow", "oncall_check", outcome="info", reason="on behalf of another person: humans approve")
        return False
    try:
        on_call = await workflow.execute_activity_method(
            OncallActivities.who_is_on_call,
            schedule,
            start_to_close_timeout=LOOKUP_TIMEOUT,
            retry_policy=LOOKUP_RETRY,
            summary=f"on call for {schedule}",
        )
    except ActivityError as exc:
        why = str(exc.cause) if exc.cause is not None else str(exc)
        out.event("grantflow", "oncall_check", outcome="failed", reason=f"lookup failed, humans approve: {why}"[:500])
        return False
    if requester not in on_call:
        out.event("grantflow", "oncall_check", outcome="info", reason=f"not on call for {schedule}: humans approve")
        return False
    reason = f"automatic: on call for {schedule}"
    s.approvals.append(Approval(approver="grantflow", comment=reason, at=workflow.now(), automatic=True))
    out.event("grantflow", "approve", reason=reason, detail={"automatic": "oncall", "schedule": schedule})
    return True
