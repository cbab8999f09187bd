"""Continue-as-new: the whole state of a request handed to the next run of the same workflow id, and taken
back by that run before it handles any message. Timers carry over exactly: the approval wait as the time
waited so far at `carried_at`, the expiry and its reminder as absolute times.

Deterministic, no I/O: plain copies between the workflow's state and `CarriedState`, and the hand-over.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import TypedSearchAttributes

from workflows.outbox import Outbox
from workflows.refusals import Refusals
from workflows.state import RequestState

with workflow.unsafe.imports_passed_through():
    from grantflow.domain.models import CarriedState, WorkflowInput
    from grantflow.domain.search_attributes import search_attributes_for

# How long a run waits for an in-flight publish before it continues as new anyway, carrying that batch.
CONTINUE_DRAIN_TIMEOUT = timedelta(minutes=1)


async def continue_as_new(s: RequestState, outbox: Outbox, refusals: Refusals, nonces: list[str]) -> None:
    """Hand the whole state to a fresh run of the same workflow id, once every message handled so far is
    published: the history starts again near empty, and nothing of the request is lost. Returns (without
    continuing) when a decision arrived meanwhile, for the caller to act on first."""
    refusals.flush()
    # A publish still in flight after the timeout goes with the state and runs again.
    with contextlib.suppress(TimeoutError):
        await workflow.wait_condition(
            lambda: outbox.idle() and workflow.all_handlers_finished(),
            timeout=CONTINUE_DRAIN_TIMEOUT,
            timeout_summary="publish before continue-as-new",
        )
    if s.decision_pending():
        return
    # Carried with the state and published by the new run.
    outbox.event(
        "grantflow",
        "continue_as_new",
        outcome="info",
        detail={"run": s.run + 1, "history_length": workflow.info().get_current_history_length()},
    )
    view = s.view(workflow.info().workflow_id)
    carried = carry(s, outbox, refusals, workflow.now(), nonces)
    workflow.continue_as_new(
        WorkflowInput(request_id=s.inp.request_id, spec=s.spec, submitted_at=s.inp.submitted_at, carried=carried),
        search_attributes=TypedSearchAttributes(search_attributes_for(view)),
    )


def carry(s: RequestState, outbox: Outbox, refusals: Refusals, now: datetime, nonces: list[str]) -> CarriedState:
    """Everything the next run needs; what the main loop acts on at once (pending decisions) is not carried:
    the run only continues when there is none."""
    return CarriedState(
        status=s.status,
        status_reason=s.reason,
        decision=s.d,
        approvals=s.approvals,
        granted_at=s.granted_at,
        expires_at=s.expires_at,
        extensions_used=s.extensions_used,
        extension_offered=s.extension_offered,
        reminded_for=s.reminded_for,
        granted=s.granted,
        seq=outbox.seq,
        events=outbox.events,
        outbox=outbox.carried(),
        approval_waited_seconds=s.approval_waited.total_seconds(),
        carried_at=now,
        refusals=refusals.carried(),
        run=s.run + 1,
        escalated=s.escalated,
        nonces=nonces,
        human_required=s.human_required,
        submitted_via=s.submitted_via,
        submission_verified=s.submission_verified,
        refused=s.refused,
    )


def restore(inp: WorkflowInput, c: CarriedState) -> RequestState:
    """The state of the previous run (the outbox and refusal windows are rebuilt from `c` beside it)."""
    return RequestState(
        inp=inp,
        status=c.status,
        reason=c.status_reason,
        decision=c.decision,
        approvals=list(c.approvals),
        granted_at=c.granted_at,
        expires_at=c.expires_at,
        extensions_used=c.extensions_used,
        extension_offered=c.extension_offered,
        reminded_for=c.reminded_for,
        granted=list(c.granted),
        approval_waited=timedelta(seconds=c.approval_waited_seconds),
        carried_at=c.carried_at,
        run=c.run,
        escalated=list(c.escalated),
        submitted_via=c.submitted_via,
        submission_verified=c.submission_verified,
        human_required=c.human_required,
        refused=list(c.refused),
    )
