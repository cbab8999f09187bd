"""AccessRequestWorkflow: the lifecycle of one access request, as a durable state machine.

PENDING_APPROVAL → GRANTING → ACTIVE → REVOKING → EXPIRED | REVOKED, with REJECTED and FAILED as the
other ends. Deterministic only: every side effect (policy lookup, grants, records, notifications) is an
activity. Signals and updates share one handler per message so that a forged signal from the CLI is
judged by exactly the rules a Slack click is; refusals change nothing and go to the audit trail.

Publishing (request index, audit trail, notifications) runs in a background coroutine that drains an
outbox in order and batches whatever accumulated, so that a busy workflow pays one publish for several
transitions. A publish first runs as a local activity (no server round trip: this is most of what the
lifecycle costs beyond the Temporal floor, see bench/README.md) with a short timeout, and falls back to a
durable activity that retries forever when that fails, so a slow or failing Slack costs at most that
timeout once. The transitions into GRANTING and REVOKING are held back while their grant or revoke round
runs and go out with its outcome, so that neither the grant nor the expiry's revoke waits for a publish.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from grantflow.domain import policy
    from grantflow.domain.models import (
        AccessStatus,
        Approval,
        ApprovePayload,
        AuditEvent,
        CarriedState,
        ExtendPayload,
        GrantItem,
        GrantResult,
        PolicyDecision,
        RefusalWindow,
        RejectPayload,
        RevokePayload,
        StatusView,
        Transition,
        WorkflowInput,
    )
    from grantflow.domain.ops import ItemOp, PublishBatch

SA_STATUS = SearchAttributeKey.for_keyword("AccessStatus")
SA_REQUESTER = SearchAttributeKey.for_keyword("AccessRequester")
SA_GRANTEE = SearchAttributeKey.for_keyword("AccessGrantee")
SA_INTEGRATIONS = SearchAttributeKey.for_keyword_list("AccessIntegrations")
SA_EXPIRES_AT = SearchAttributeKey.for_datetime("AccessExpiresAt")

APPROVAL_TIMEOUT_REASON = "approval timed out"
GRANT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=3
)
EXTEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Each revoke round retries a few times inside the activity; between rounds the workflow records the error
# in status_reason and backs off, forever: revocation is never given up.
REVOKE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20), maximum_attempts=4
)
REVOKE_ROUND_BACKOFF_MAX = timedelta(minutes=5)
# Item activities heartbeat while a call runs long (activities/grants.py): a crashed worker's grant or
# revoke is retried elsewhere after this, not after the two-minute start-to-close timeout.
ITEM_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
MIN_TIMER = timedelta(milliseconds=1)
PUBLISH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
PUBLISH_LOCAL_TIMEOUT = timedelta(seconds=5)
PUBLISH_LOCAL_RETRY = RetryPolicy(maximum_attempts=1)
# Histories begun before local-first publishing replay with the remote-only publisher.
FAST_PUBLISH_PATCH = "publish-local-first"
# An extension the target refused keeps the old expiry and is not counted (before: counted, published as
# "extended" with the failure only in the audit trail).
EXTEND_FAILED_PATCH = "extend-failure-keeps-expiry"
EXTEND_FAILED_REASON = "extension failed"
# A flood of messages cannot push a request to Temporal's history limit: refusals are recorded at most once
# per actor per minute (the rest counted, then summarised), and a waiting or holding request continues as new
# when the server suggests it. Histories begun before either replay as they were recorded.
REFUSAL_LIMIT_PATCH = "refusals-once-a-minute"
CONTINUE_AS_NEW_PATCH = "continue-as-new"
REFUSAL_WINDOW = timedelta(minutes=1)
# Beyond this many actors refused within a minute, the others share one window (random actor names in a
# flood must not each get their own audit event).
MAX_REFUSAL_WINDOWS = 20
OTHER_ACTORS = "(other actors)"
# How long a run waits for an in-flight publish before it continues as new anyway, carrying that batch.
CONTINUE_DRAIN_TIMEOUT = timedelta(minutes=1)

P = TypeVar("P", bound=BaseModel)


def search_attributes_for(view: StatusView) -> list[SearchAttributePair[Any]]:
    """The contract's search attributes, current for this view (kept in step at every transition)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(SA_STATUS, view.status.value),
        SearchAttributePair(SA_REQUESTER, view.requester),
        SearchAttributePair(SA_GRANTEE, view.grantee),
        SearchAttributePair(SA_INTEGRATIONS, sorted({g.integration for g in view.grants})),
    ]
    if view.expires_at is not None:
        pairs.append(SearchAttributePair(SA_EXPIRES_AT, view.expires_at))
    return pairs


def initial_search_attributes(view: StatusView) -> TypedSearchAttributes:
    return TypedSearchAttributes(search_attributes_for(view))


def summary_line(view: StatusView) -> str:
    """One line for the Web UI: who → what · status."""
    what = ", ".join(f"{g.integration}/{g.resource} ({g.permission})" for g in view.grants[:3])
    if len(view.grants) > 3:
        what += f" +{len(view.grants) - 3} more"
    line = f"{view.grantee} → {what} · {view.status.value}"
    if view.status == AccessStatus.ACTIVE and view.expires_at:
        line += f" until {view.expires_at:%Y-%m-%d %H:%M} UTC"
    if view.status_reason and view.status.is_final:
        line += f" ({view.status_reason})"
    return line


@workflow.defn(name="AccessRequestWorkflow")
class AccessRequestWorkflow:
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        self._inp = inp
        self._spec = inp.spec
        self._status = AccessStatus.PENDING_APPROVAL
        self._reason = ""
        self._decision: PolicyDecision | None = None
        self._approvals: list[Approval] = []
        self._rejected_by: str | None = None
        self._revoke_by: str | None = None
        self._revoke_reason = ""
        self._granted_at: datetime | None = None
        self._expires_at: datetime | None = None
        self._ended_at: datetime | None = None
        self._extensions_used = 0
        self._extends_pending = 0
        self._extension_offered = False
        self._granted: list[GrantItem] = []
        self._seq = 0
        self._events: list[AuditEvent] = []
        self._outbox: list[Transition] = []
        self._closing = False
        # What the client indexed at start (initial_search_attributes), kept current by _transition.
        self._indexed: dict[str, Any] = {
            SA_STATUS.name: AccessStatus.PENDING_APPROVAL.value,
            SA_REQUESTER.name: inp.spec.requester,
            SA_GRANTEE.name: inp.spec.grantee,
            SA_INTEGRATIONS.name: sorted({g.integration for g in inp.spec.items}),
        }
        self._fast_publish = False
        self._publish_held = False
        self._inflight: list[Transition] | None = None
        self._reminded_for: datetime | None = None
        self._refusals: dict[str, RefusalWindow] = {}
        self._limit_refusals: bool | None = None
        self._summarizer: asyncio.Task[None] | None = None
        self._continue_enabled = False
        self._approval_waited = timedelta(0)
        self._carried_at: datetime | None = None
        self._run_number = 1
        if inp.carried is not None:
            self._restore(inp.carried)

    def _restore(self, c: CarriedState) -> None:
        """The state of the previous run (see _continue_as_new), before any message of this one is handled."""
        self._status = c.status
        self._reason = c.status_reason
        self._decision = c.decision
        self._approvals = list(c.approvals)
        self._granted_at = c.granted_at
        self._expires_at = c.expires_at
        self._extensions_used = c.extensions_used
        self._extension_offered = c.extension_offered
        self._reminded_for = c.reminded_for
        self._granted = list(c.granted)
        self._seq = c.seq
        self._events = list(c.events)
        self._outbox = list(c.outbox)
        self._approval_waited = timedelta(seconds=c.approval_waited_seconds)
        self._carried_at = c.carried_at
        self._refusals = {w.actor: w for w in c.refusals}
        self._run_number = c.run
        # The previous run passed these on as this run's search attributes.
        self._indexed = {p.key.name: p.value for p in search_attributes_for(self._view())}

    # --- run -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: WorkflowInput) -> StatusView:
        self._fast_publish = workflow.patched(FAST_PUBLISH_PATCH)
        self._continue_enabled = workflow.patched(CONTINUE_AS_NEW_PATCH)
        if self._inp.carried is not None:
            return await self._resume()
        self._event(
            self._spec.requester,
            "request",
            detail={
                "grantee": self._spec.grantee,
                "items": [i.model_dump() for i in self._spec.items],
                "duration_seconds": self._spec.duration_seconds,
                "justification": self._spec.justification,
                "bundle": self._spec.bundle,
                "source": self._spec.source,
            },
        )
        self._decision = await workflow.execute_local_activity(
            "resolve_policy",
            self._spec,
            result_type=PolicyDecision,
            start_to_close_timeout=timedelta(seconds=30),
        )
        publisher = asyncio.create_task(self._publisher())
        if not self._decision.allowed:
            self._finish(AccessStatus.FAILED, f"policy: {self._decision.reason}")
        else:
            self._transition("submitted")
            if await self._await_approval():
                await self._grant_and_hold()
        return await self._close(publisher)

    async def _resume(self) -> StatusView:
        """A continued run: the request goes on where the previous run left it (waiting or holding)."""
        workflow.set_current_details(summary_line(self._view()))
        publisher = asyncio.create_task(self._publisher())
        if self._status == AccessStatus.PENDING_APPROVAL:
            if await self._await_approval():
                await self._grant_and_hold()
        else:
            await self._hold(fresh=False)
            await self._end_access()
        return await self._close(publisher)

    async def _close(self, publisher: asyncio.Task[None]) -> StatusView:
        self._flush_refusals()
        self._closing = True
        await publisher
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _await_approval(self) -> bool:
        """True when approved; otherwise the request has ended (rejected, withdrawn, timed out)."""
        d = self._require_decision()
        if d.approvals_required == 0:
            self._event("grantflow", "approve", reason="automatic approval (approvals_required: 0)")
            return True
        # Time is counted by the timers that fired (they are in history), never by re-reading the clock:
        # the time a worker sees for a retried workflow task can lag, and a decision taken on it would not
        # replay (seen under load when a task timed out while the server was down).
        total = timedelta(seconds=d.approval_timeout_seconds)
        interval = timedelta(seconds=max(60, d.approval_reminder_seconds))
        # A continued run goes on from the time its predecessor had waited (both measured on history's clock).
        waited = self._approval_waited
        if self._carried_at is not None:
            waited += max(workflow.now() - self._carried_at, timedelta(0))
        while True:
            # Reminders fall on whole intervals of waiting; a fresh run starts on one (one interval per step).
            step = max(min(interval - waited % interval, total - waited), MIN_TIMER)
            started = workflow.now()
            try:
                await workflow.wait_condition(
                    lambda: (
                        self._approved()
                        or self._rejected_by is not None
                        or self._revoke_by is not None
                        or self._continue_due()
                    ),
                    timeout=step,
                    timeout_summary="approval wait",
                )
            except TimeoutError:
                waited += step
                if waited >= total:
                    self._finish(AccessStatus.FAILED, APPROVAL_TIMEOUT_REASON, kind="approval_timeout")
                    return False
                self._event("grantflow", "approval_reminder", outcome="info")
                self._transition("approval_reminder")
                continue
            if self._rejected_by is not None:
                self._finish(AccessStatus.REJECTED, self._reason, kind="rejected")
                return False
            if self._revoke_by is not None:
                self._finish(AccessStatus.REVOKED, self._revoked_reason("withdrawn"), kind="revoked")
                return False
            if self._approved() or not self._continue_due():
                return True
            self._approval_waited = waited + min(max(workflow.now() - started, timedelta(0)), step)
            draining = workflow.now()
            await self._continue_as_new()
            # A decision came in while publishing: act on it in this run (the time spent still counts).
            waited = self._approval_waited + max(workflow.now() - draining, timedelta(0))

    def _approved(self) -> bool:
        d = self._require_decision()
        return any(a.break_glass for a in self._approvals) or len(self._approvals) >= d.approvals_required

    async def _grant_and_hold(self) -> None:
        now = workflow.now()
        self._granted_at = now
        self._expires_at = now + timedelta(seconds=self._spec.duration_seconds)
        self._hold_publishing(True)
        self._set_status(AccessStatus.GRANTING, "", "granting")
        results = await asyncio.gather(*(self._grant(item) for item in self._spec.items))
        self._hold_publishing(False)
        self._granted = [r.item for r in results if r.ok]
        failures = [r for r in results if not r.ok]
        if failures:
            reason = "grant failed: " + "; ".join(f"{r.item.label()}: {r.error}" for r in failures)
            if self._granted:
                self._hold_publishing(True)
                self._set_status(AccessStatus.REVOKING, reason + " (undoing the grants that succeeded)", "revoking")
                await self._revoke_all()
            self._finish(AccessStatus.FAILED, reason, kind="failed")
            return
        if self._revoke_by is None:
            self._set_status(AccessStatus.ACTIVE, "", "active")
            await self._hold()
        await self._end_access()

    async def _end_access(self) -> None:
        self._hold_publishing(True)
        self._set_status(
            AccessStatus.REVOKING, self._revoked_reason("expired") if self._revoke_by else "expired", "revoking"
        )
        await self._revoke_all()
        if self._revoke_by is not None:
            self._finish(AccessStatus.REVOKED, self._revoked_reason("revoked"), kind="revoked")
        else:
            self._finish(AccessStatus.EXPIRED, "expired", kind="expired")

    async def _hold(self, fresh: bool = True) -> None:
        """Stay ACTIVE until expiry or revocation, reminding before the end and applying extensions."""
        d = self._require_decision()
        if (
            fresh
            and d.extension.enabled
            and d.extension.max_extensions > 0
            and self._spec.duration_seconds <= d.extension.notify_before_seconds
        ):
            # Granted for less than the reminder lead: offer the extension at once (decided on recorded
            # durations, not on the clock).
            self._reminded_for = self._expires_at
            self._remind()
        while self._revoke_by is None:
            assert self._expires_at is not None
            wake = self._expires_at
            remind_at: datetime | None = None
            can_extend = d.extension.enabled and self._extensions_used < d.extension.max_extensions
            if can_extend and self._reminded_for != self._expires_at:
                remind_at = self._expires_at - timedelta(seconds=d.extension.notify_before_seconds)
                wake = remind_at
            # Always a timer, even when the moment has passed: whether one is started must not depend on the
            # clock, which a retried workflow task can see late (see _await_approval).
            try:
                await workflow.wait_condition(
                    lambda: self._revoke_by is not None or self._extends_pending > 0 or self._continue_due(),
                    timeout=max(wake - workflow.now(), MIN_TIMER),
                    timeout_summary="until reminder" if remind_at else "until expiry",
                )
            except TimeoutError:
                # Decide by which timer fired, not by re-reading the clock (see _await_approval).
                if self._extends_pending:
                    await self._apply_extensions()
                elif remind_at is None:
                    return
                else:
                    self._reminded_for = self._expires_at
                    self._remind()
                continue
            if self._extends_pending:
                await self._apply_extensions()
            elif self._revoke_by is None and self._continue_due():
                await self._continue_as_new()

    # --- continue-as-new ---------------------------------------------------------------------------

    def _continue_due(self) -> bool:
        return self._continue_enabled and workflow.info().is_continue_as_new_suggested()

    def _decision_pending(self) -> bool:
        """A message that the main loop must act on (state that is not carried to a new run)."""
        return (
            self._rejected_by is not None
            or self._revoke_by is not None
            or self._extends_pending > 0
            or (self._status == AccessStatus.PENDING_APPROVAL and self._approved())
        )

    async def _continue_as_new(self) -> None:
        """Hand the whole state to a fresh run of the same workflow id, once every message handled so far is
        published: the history starts again near empty, and nothing of the request is lost. Returns (without
        continuing) when a decision arrived meanwhile, for the caller to act on first."""
        self._flush_refusals()
        # A publish still in flight after the timeout goes with the state and runs again (notifiers are
        # idempotent).
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._publisher_idle() and workflow.all_handlers_finished(),
                timeout=CONTINUE_DRAIN_TIMEOUT,
                timeout_summary="publish before continue-as-new",
            )
        if self._decision_pending():
            return
        # Carried with the state and published by the new run.
        self._event(
            "grantflow",
            "continue_as_new",
            outcome="info",
            detail={"run": self._run_number + 1, "history_length": workflow.info().get_current_history_length()},
        )
        view = self._view()
        carried = CarriedState(
            status=self._status,
            status_reason=self._reason,
            decision=self._require_decision(),
            approvals=self._approvals,
            granted_at=self._granted_at,
            expires_at=self._expires_at,
            extensions_used=self._extensions_used,
            extension_offered=self._extension_offered,
            reminded_for=self._reminded_for,
            granted=self._granted,
            seq=self._seq,
            events=self._events,
            outbox=(self._inflight or []) + self._outbox,
            approval_waited_seconds=self._approval_waited.total_seconds(),
            carried_at=workflow.now(),
            refusals=list(self._refusals.values()),
            run=self._run_number + 1,
        )
        workflow.continue_as_new(
            WorkflowInput(
                request_id=self._inp.request_id,
                spec=self._spec,
                submitted_at=self._inp.submitted_at,
                carried=carried,
            ),
            search_attributes=TypedSearchAttributes(search_attributes_for(view)),
        )

    def _publisher_idle(self) -> bool:
        return self._inflight is None and not self._outbox and not self._events

    def _remind(self) -> None:
        self._extension_offered = True
        self._event(
            "grantflow",
            "expiry_reminder",
            outcome="info",
            detail={"expires_at": self._expires_at.isoformat() if self._expires_at else None},
        )
        self._transition("expiry_reminder")

    async def _apply_extensions(self) -> None:
        applying = self._extends_pending
        self._extends_pending = 0
        expires_at = self._expires_at
        assert expires_at is not None
        results = await asyncio.gather(
            *(self._item_activity("extend_item", item, EXTEND_RETRY) for item in self._granted),
            return_exceptions=True,
        )
        errors = [
            f"{item.label()}: {_cause(r)}"
            for item, r in zip(self._granted, results, strict=True)
            if isinstance(r, BaseException)
        ]
        if errors and workflow.patched(EXTEND_FAILED_PATCH):
            self._extension_failed(applying, errors)
            return
        if errors:
            self._event("grantflow", "extend_target", outcome="failed", reason="; ".join(errors))
        elif self._reason.startswith(EXTEND_FAILED_REASON):
            self._reason = ""
        self._transition("extended")

    def _extension_failed(self, applying: int, errors: list[str]) -> None:
        """The target refused (every retry): access ends when it says, so the request keeps its old expiry,
        the extension is not counted (it can be asked for again) and the person is told why."""
        d = self._require_decision()
        assert self._expires_at is not None
        # Extensions asked for while this round ran stay pending on top of the kept expiry.
        self._expires_at -= timedelta(seconds=d.extension.duration_seconds * applying)
        self._extensions_used = max(0, self._extensions_used - applying)
        self._extension_offered = self._extensions_used < d.extension.max_extensions
        self._reason = (
            f"{EXTEND_FAILED_REASON}: {'; '.join(errors)}; access still ends at {self._expires_at:%Y-%m-%d %H:%M} UTC"
        )
        self._event(
            "grantflow",
            "extend_failed",
            outcome="failed",
            reason=self._reason,
            detail={"expires_at": self._expires_at.isoformat(), "extensions_used": self._extensions_used},
        )
        self._transition("extend_failed")

    async def _grant(self, item: GrantItem) -> GrantResult:
        try:
            details = await self._item_activity("grant_item", item, GRANT_RETRY)
        except ActivityError as exc:
            self._event("grantflow", "grant", outcome="failed", reason=_cause(exc), detail=item.model_dump())
            return GrantResult(item=item, ok=False, error=_cause(exc))
        self._event("grantflow", "grant", detail={**item.model_dump(), "access": details})
        return GrantResult(item=item, ok=True, details=details)

    async def _revoke_all(self) -> None:
        await asyncio.gather(*(self._revoke(item) for item in self._granted))
        self._hold_publishing(False)

    async def _revoke(self, item: GrantItem) -> None:
        backoff = timedelta(seconds=5)
        while True:
            try:
                await self._item_activity("revoke_item", item, REVOKE_RETRY)
                self._event("grantflow", "revoke", detail=item.model_dump())
                return
            except ActivityError as exc:
                self._reason = f"revoke of {item.label()} failed, retrying: {_cause(exc)}"
                self._event("grantflow", "revoke", outcome="failed", reason=self._reason, detail=item.model_dump())
                self._hold_publishing(False)
                self._transition("revoke_retry")
                await workflow.sleep(backoff, summary="revoke backoff")
                backoff = min(backoff * 2, REVOKE_ROUND_BACKOFF_MAX)

    async def _item_activity(self, name: str, item: GrantItem, retry: RetryPolicy) -> dict[str, Any]:
        assert self._expires_at is not None
        op = ItemOp(
            request_id=self._inp.request_id,
            requester=self._spec.requester,
            grantee=self._spec.grantee,
            item=item,
            expires_at=self._expires_at,
        )
        result: dict[str, Any] = await workflow.execute_activity(
            name,
            op,
            result_type=dict,
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=ITEM_HEARTBEAT_TIMEOUT,
            retry_policy=retry,
            summary=f"{name.split('_')[0]} {item.label()}",
        )
        return result

    # --- state changes -----------------------------------------------------------------------------

    def _set_status(self, status: AccessStatus, reason: str, kind: str) -> None:
        self._status = status
        self._reason = reason
        if status != AccessStatus.ACTIVE:
            self._extension_offered = False
        self._transition(kind)

    def _finish(self, status: AccessStatus, reason: str, kind: str = "failed") -> None:
        self._ended_at = workflow.now()
        self._event("grantflow", kind, outcome="failed" if status == AccessStatus.FAILED else "ok", reason=reason)
        self._set_status(status, reason, kind)

    def _revoked_reason(self, default: str) -> str:
        if self._revoke_by is None:
            return default
        text = f"{default} by {self._revoke_by}"
        return f"{text}: {self._revoke_reason}" if self._revoke_reason else text

    def _event(
        self, actor: str, action: str, *, outcome: str = "ok", reason: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        self._seq += 1
        self._events.append(
            AuditEvent(
                key=f"{self._inp.request_id}:{self._seq}",
                request_id=self._inp.request_id,
                at=workflow.now(),
                actor=actor,
                action=action,
                outcome=outcome,  # type: ignore[arg-type]
                reason=reason,
                detail=detail or {},
            )
        )

    def _transition(self, kind: str) -> None:
        view = self._view()
        # Upsert only what changed: each upsert is a command the server indexes, and most of what a request
        # costs the server beyond the Temporal floor (bench/README.md).
        changed = [p for p in search_attributes_for(view) if self._indexed.get(p.key.name) != p.value]
        if changed:
            workflow.upsert_search_attributes([p.key.value_set(p.value) for p in changed])
            self._indexed.update({p.key.name: p.value for p in changed})
        workflow.set_current_details(summary_line(view))
        self._outbox.append(Transition(kind=kind, status=view, events=self._events))
        self._events = []

    def _hold_publishing(self, held: bool) -> None:
        """Hold back the outbox while a grant or revoke round runs (see the module docstring)."""
        self._publish_held = held and self._fast_publish

    def _publish_due(self) -> bool:
        return self._closing or ((bool(self._outbox) or bool(self._events)) and not self._publish_held)

    async def _publisher(self) -> None:
        while True:
            await workflow.wait_condition(self._publish_due)
            if self._events and not self._outbox:
                self._outbox.append(Transition(kind="audit", status=self._view(), events=self._events))
                self._events = []
            if not self._outbox:
                return
            batch, self._outbox = self._outbox, []
            self._inflight = batch
            await self._publish(batch)
            self._inflight = None

    async def _publish(self, batch: list[Transition]) -> None:
        summary = ", ".join(t.kind for t in batch)[:200]
        if self._fast_publish:
            try:
                await workflow.execute_local_activity(
                    "publish_transitions",
                    PublishBatch(transitions=batch),
                    start_to_close_timeout=PUBLISH_LOCAL_TIMEOUT,
                    retry_policy=PUBLISH_LOCAL_RETRY,
                    summary=summary,
                )
                return
            except (ActivityError, ApplicationError):
                # A local activity that raises surfaces as its ApplicationError, not as an ActivityError
                # (only its timeout does): both must fall back, or the publisher dies with the batch.
                pass
        await workflow.execute_activity(
            "publish_transitions",
            PublishBatch(transitions=batch),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=PUBLISH_RETRY,
            summary=summary,
        )

    def _require_decision(self) -> PolicyDecision:
        assert self._decision is not None
        return self._decision

    def _view(self) -> StatusView:
        d = self._decision
        return StatusView(
            request_id=self._inp.request_id,
            workflow_id=workflow.info().workflow_id,
            status=self._status,
            status_reason=self._reason,
            requester=self._spec.requester,
            grantee=self._spec.grantee,
            grants=self._spec.items,
            bundle=self._spec.bundle,
            justification=self._spec.justification,
            duration_seconds=self._spec.duration_seconds,
            flow_id=d.flow_id if d else "",
            flow_name=d.flow_name if d else "",
            approvers=d.approvers if d else [],
            approvals=self._approvals,
            approvals_required=d.approvals_required if d else 0,
            approval_channel=d.approval_channel if d else None,
            rejected_by=self._rejected_by,
            submitted_at=self._inp.submitted_at,
            granted_at=self._granted_at,
            expires_at=self._expires_at,
            ended_at=self._ended_at,
            extensions_used=self._extensions_used,
            max_extensions=d.extension.max_extensions if d else 0,
            extension_enabled=bool(d and d.extension.enabled),
            extension_offered=self._extension_offered,
            revoked_by=self._revoke_by,
        )

    # --- messages: one handler each, reached by signal or update --------------------------------------

    def _parse(self, model: type[P], raw: Any, action: str) -> P | str:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            return f"malformed {action} payload: {where}: {first['msg']}"

    def _refuse(self, action: str, actor: str, reason: str, raise_error: bool) -> None:
        actor = actor or "unknown"
        if not self._counted_only(actor, action, reason):
            self._event(actor, action, outcome="refused", reason=reason)
        if raise_error:
            raise ApplicationError(reason, type="Refused", non_retryable=True)

    def _counted_only(self, actor: str, action: str, reason: str) -> bool:
        """True when this refusal is only counted: its actor already has one recorded within the minute."""
        now = workflow.now()
        self._expire_refusals(now)
        key = actor if actor in self._refusals or len(self._refusals) < MAX_REFUSAL_WINDOWS else OTHER_ACTORS
        window = self._refusals.get(key)
        if window is None:
            self._refusals[key] = RefusalWindow(actor=key, started_at=now)
            return False
        if self._limit_refusals is None:
            self._limit_refusals = workflow.patched(REFUSAL_LIMIT_PATCH)
        if not self._limit_refusals:
            return False
        window.suppressed += 1
        window.action = action
        window.reason = reason
        if self._summarizer is None:
            self._summarizer = asyncio.create_task(self._summarize_refusals())
        return True

    def _expire_refusals(self, now: datetime) -> None:
        """Close the windows older than a minute, each with a summary of what it only counted."""
        for key, window in list(self._refusals.items()):
            if now - window.started_at >= REFUSAL_WINDOW:
                self._summarize(window)
                del self._refusals[key]

    def _flush_refusals(self) -> None:
        """Make every count visible now (before the run ends); the windows stay, so the limit goes on."""
        for window in self._refusals.values():
            self._summarize(window)

    def _summarize(self, window: RefusalWindow) -> None:
        if not window.suppressed:
            return
        self._event(
            window.actor,
            window.action,
            outcome="refused",
            reason=f"and {window.suppressed} more refused in the last minute (last: {window.reason})",
            detail={"suppressed": window.suppressed, "since": window.started_at.isoformat()},
        )
        window.suppressed = 0

    async def _summarize_refusals(self) -> None:
        """A minute after a window began counting, its summary goes to the audit trail even if the flood
        stopped (otherwise the count would wait for the next message)."""
        while True:
            await workflow.wait_condition(lambda: any(w.suppressed for w in self._refusals.values()))
            due = min(w.started_at for w in self._refusals.values() if w.suppressed) + REFUSAL_WINDOW
            await workflow.sleep(max(due - workflow.now(), MIN_TIMER), summary="refusal summary")
            self._expire_refusals(workflow.now())

    @staticmethod
    def _actor_of(raw: Any, key: str) -> str:
        value = raw.get(key) if isinstance(raw, dict) else None
        return str(value)[:320] if value else "unknown"

    async def _decided(self) -> PolicyDecision:
        await workflow.wait_condition(lambda: self._decision is not None)
        return self._require_decision()

    async def _on_approve(self, raw: Any, strict: bool) -> StatusView:
        p = self._parse(ApprovePayload, raw, "approve")
        if isinstance(p, str):
            self._refuse("approve", self._actor_of(raw, "approver"), p, strict)
            return self._view()
        d = await self._decided()
        why = (
            policy.judge_approve(
                d, self._spec, self._status, [a.approver for a in self._approvals], p.approver, p.break_glass, p.reason
            )
            or self._decided_already()
        )
        if why:
            self._refuse("approve", p.approver, why, strict)
            return self._view()
        approver = policy.normalize_email(p.approver)
        self._approvals.append(
            Approval(approver=approver, comment=p.comment or p.reason, at=workflow.now(), break_glass=p.break_glass)
        )
        if p.break_glass:
            self._event(approver, "approve", reason=p.reason, detail={"break_glass": True, "comment": p.comment})
        else:
            self._event(approver, "approve", reason=p.comment, detail={"comment": p.comment})
        if not self._approved():
            self._transition("approval")
        return self._view()

    async def _on_reject(self, raw: Any, strict: bool) -> StatusView:
        p = self._parse(RejectPayload, raw, "reject")
        if isinstance(p, str):
            self._refuse("reject", self._actor_of(raw, "approver"), p, strict)
            return self._view()
        d = await self._decided()
        why = policy.judge_reject(d, self._spec, self._status, p.approver) or self._decided_already()
        if why:
            self._refuse("reject", p.approver, why, strict)
            return self._view()
        self._rejected_by = policy.normalize_email(p.approver)
        self._reason = f"rejected by {self._rejected_by}" + (f": {p.reason}" if p.reason else "")
        self._event(self._rejected_by, "reject", reason=p.reason)
        return self._view()

    def _decided_already(self) -> str | None:
        """Between the deciding message and the main loop noticing it, the status is still pending."""
        if self._rejected_by is not None:
            return f"the request was already rejected by {self._rejected_by}"
        if self._decision is not None and self._status == AccessStatus.PENDING_APPROVAL and self._approved():
            return "the request is already approved"
        if self._revoke_by is not None:
            return f"the request was withdrawn by {self._revoke_by}"
        return None

    async def _on_extend(self, raw: Any, strict: bool) -> StatusView:
        p = self._parse(ExtendPayload, raw, "extend")
        if isinstance(p, str):
            self._refuse("extend", self._actor_of(raw, "actor"), p, strict)
            return self._view()
        d = await self._decided()
        why = policy.judge_extend(d, self._spec, self._status, self._extensions_used, p.actor)
        if why:
            self._refuse("extend", p.actor, why, strict)
            return self._view()
        assert self._expires_at is not None
        old = self._expires_at
        self._expires_at = old + timedelta(seconds=d.extension.duration_seconds)
        self._extensions_used += 1
        self._extends_pending += 1
        self._extension_offered = False
        self._event(
            policy.normalize_email(p.actor),
            "extend",
            detail={
                "from": old.isoformat(),
                "to": self._expires_at.isoformat(),
                "extensions_used": self._extensions_used,
            },
        )
        return self._view()

    async def _on_revoke(self, raw: Any, strict: bool) -> StatusView:
        p = self._parse(RevokePayload, raw, "revoke")
        if isinstance(p, str):
            self._refuse("revoke", self._actor_of(raw, "actor"), p, strict)
            return self._view()
        d = await self._decided()
        why = policy.judge_revoke(d, self._spec, self._status, p.actor)
        if why is None and self._revoke_by is not None:
            why = f"already being revoked by {self._revoke_by}"
        if why:
            self._refuse("revoke", p.actor, why, strict)
            return self._view()
        self._revoke_by = policy.normalize_email(p.actor)
        self._revoke_reason = p.reason
        self._event(self._revoke_by, "revoke_request", reason=p.reason)
        return self._view()

    @workflow.signal(name="approve")
    async def approve_signal(self, raw: Any = None) -> None:
        await self._on_approve(raw, strict=False)

    @workflow.signal(name="reject")
    async def reject_signal(self, raw: Any = None) -> None:
        await self._on_reject(raw, strict=False)

    @workflow.signal(name="extend")
    async def extend_signal(self, raw: Any = None) -> None:
        await self._on_extend(raw, strict=False)

    @workflow.signal(name="revoke")
    async def revoke_signal(self, raw: Any = None) -> None:
        await self._on_revoke(raw, strict=False)

    @workflow.update(name="approve")
    async def approve_update(self, raw: Any = None) -> StatusView:
        return await self._on_approve(raw, strict=True)

    @workflow.update(name="reject")
    async def reject_update(self, raw: Any = None) -> StatusView:
        return await self._on_reject(raw, strict=True)

    @workflow.update(name="extend")
    async def extend_update(self, raw: Any = None) -> StatusView:
        return await self._on_extend(raw, strict=True)

    @workflow.update(name="revoke")
    async def revoke_update(self, raw: Any = None) -> StatusView:
        return await self._on_revoke(raw, strict=True)

    # Validators answer at once, before anything is written to history. They need the recorded policy
    # decision; in the instant before it exists, the handler judges instead.

    def _validate(self, model: type[P], raw: Any, action: str, judge: Any) -> None:
        p = self._parse(model, raw, action)
        if isinstance(p, str):
            raise ValueError(p)
        if self._decision is None:
            return
        why = judge(self._decision, p)
        if why:
            raise ValueError(why)

    @approve_update.validator
    def _validate_approve(self, raw: Any = None) -> None:
        self._validate(
            ApprovePayload,
            raw,
            "approve",
            lambda d, p: (
                policy.judge_approve(
                    d,
                    self._spec,
                    self._status,
                    [a.approver for a in self._approvals],
                    p.approver,
                    p.break_glass,
                    p.reason,
                )
                or self._decided_already()
            ),
        )

    @reject_update.validator
    def _validate_reject(self, raw: Any = None) -> None:
        self._validate(
            RejectPayload,
            raw,
            "reject",
            lambda d, p: policy.judge_reject(d, self._spec, self._status, p.approver) or self._decided_already(),
        )

    @extend_update.validator
    def _validate_extend(self, raw: Any = None) -> None:
        self._validate(
            ExtendPayload,
            raw,
            "extend",
            lambda d, p: policy.judge_extend(d, self._spec, self._status, self._extensions_used, p.actor),
        )

    @revoke_update.validator
    def _validate_revoke(self, raw: Any = None) -> None:
        self._validate(
            RevokePayload,
            raw,
            "revoke",
            lambda d, p: (
                policy.judge_revoke(d, self._spec, self._status, p.actor)
                or (f"already being revoked by {self._revoke_by}" if self._revoke_by else None)
            ),
        )

    @workflow.query(name="status")
    def status(self) -> StatusView:
        return self._view()


def _cause(exc: BaseException) -> str:
    """The innermost message of an activity failure: what actually went wrong."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return str(exc) or type(exc).__name__
