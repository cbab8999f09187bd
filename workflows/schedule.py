"""A scheduled start: an approved request waits as SCHEDULED until the start time its requester asked for,
can be withdrawn meanwhile, and at the start is checked again against the recorded flow's current membership
(an activity reading today's config, workflows/steps.py) before anything is granted. The duration counts from
the grant.

No `workflow.patched` gate: only a spec with `start_at` takes this path, and no spec recorded before this
feature has one (the recorded histories replay unchanged).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.policy import PolicyActivities
    from grantflow.domain.models import AccessStatus, TransitionKind
    from grantflow.domain.policy import judge_start

if TYPE_CHECKING:
    from workflows.access_request import AccessRequestWorkflow


def refused_start(w: AccessRequestWorkflow) -> str | None:
    """Checked in the workflow at submission (a front door checks it too): a start in the past or too far."""
    s = w._s
    return judge_start(s.d, s.spec, workflow.now()) if s.spec.start_at is not None else None


async def wait_for_start(w: AccessRequestWorkflow) -> bool:
    """True when the request may be granted now; otherwise it has ended (withdrawn, no longer eligible)."""
    s = w._s
    start = s.spec.start_at
    if start is None or start <= workflow.now():
        return True
    w._set_status(AccessStatus.SCHEDULED, f"access starts at {start:%Y-%m-%d %H:%M} UTC", TransitionKind.SCHEDULED)
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(
            lambda: s.revoke_by is not None,
            timeout=max(start - workflow.now(), timedelta(seconds=1)),
            timeout_summary="scheduled start",
        )
    if s.revoke_by is not None:
        w._finish(AccessStatus.REVOKED, s.revoked_reason("withdrawn"), TransitionKind.REVOKED)
        return False
    why = await w._steps.run(
        PolicyActivities.still_eligible, s.spec, s.d.flow_id, start_to_close_timeout=timedelta(seconds=30)
    )
    if why:
        w._finish(AccessStatus.FAILED, f"no longer eligible: {why}", TransitionKind.FAILED)
        return False
    return True
