"""Escalation: while a request is still pending approval, each step of the decided flow's `escalation` adds
approvers `after` its submission (never removes any). Quorum, self-approval and break-glass rules are those of
grantflow.domain.policy, applied to the approvers the request has at the time.

Time is counted by the approval wait's timers (workflows/access_request.py `_await_approval`), never by reading
the clock: the wait's next timer is cut short at the next step, and a step is due when the time waited, as the
fired timers add it up, reaches its `after`. Deterministic, no I/O. New histories only: the workflow calls this
when `workflow.patched(ESCALATION_PATCH)`, and decisions recorded before escalation existed have no steps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

from workflows.outbox import Outbox
from workflows.refusals import MIN_TIMER
from workflows.state import RequestState

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.models import Escalation, PolicyDecision, TransitionKind

ESCALATION_PATCH = "escalation"


def escalating(d: PolicyDecision) -> bool:
    """Whether this request escalates: its decision has steps (never one recorded before escalation existed), and
    the workflow code that runs it knows escalation (the patch marker, recorded before the wait's first timer)."""
    return bool(d.escalation) and workflow.patched(ESCALATION_PATCH)


def next_wait(d: PolicyDecision, waited: timedelta, total: timedelta, interval: timedelta) -> timedelta:
    """The approval wait's next timer: to the next reminder, the time-out, or (escalating) the next step.
    Reminders fall on whole intervals of waiting; a fresh run starts on one (one interval per step)."""
    step = min(interval - waited % interval, total - waited)
    if escalating(d):
        ahead = [timedelta(seconds=e.after_seconds) - waited for e in d.escalation]
        step = min([step, *(a for a in ahead if a > timedelta(0))])
    return max(step, MIN_TIMER)


def due(d: PolicyDecision, before: timedelta, after: timedelta) -> list[tuple[int, Escalation]]:
    """The steps (with their index) whose time came while the wait went from `before` to `after`."""
    return [(i, e) for i, e in enumerate(d.escalation) if before < timedelta(seconds=e.after_seconds) <= after]


def escalate(
    s: RequestState,
    out: Outbox,
    transition: Callable[[TransitionKind], None],
    before: timedelta,
    after: timedelta,
    interval: timedelta,
) -> bool:
    """Apply the steps that came due when a timer of the approval wait fired: add their approvers, audit each step
    and publish an `escalated` transition (new approvers get the approval message; the notify channel a note).
    True when that timer was only an escalation's, not also a reminder's."""
    steps = due(s.d, before, after) if escalating(s.d) else []
    for i, step in steps:
        added = [a for a in step.approvers if a not in s.d.approvers and a not in s.escalated]
        s.escalated.extend(added)
        reason = f"escalated to {', '.join(added)}" if added else "escalation step added no new approvers"
        detail = {"step": i + 1, "after_seconds": step.after_seconds, "approvers": added, "notify": step.notify}
        out.event("grantflow", "escalate", outcome="info", reason=reason, detail=detail)
    if steps:
        transition(TransitionKind.ESCALATED)
    return bool(steps) and after % interval != timedelta(0)
