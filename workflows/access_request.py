"""AccessRequestWorkflow: the lifecycle of one access request, as a durable state machine.

PENDING_APPROVAL → GRANTING → ACTIVE → REVOKING → EXPIRED | REVOKED, with REJECTED and FAILED as the
other ends. Deterministic only: every side effect (policy lookup, grants, records, notifications) is an
activity, called by its method so that a reader can follow it to the code that does it. Signals and updates
share one handler per message so that a forged signal from the CLI is judged by exactly the rules a Slack
click is (one `why_not_<action>` each, workflows/state.py); refusals change nothing and go to the audit
trail (workflows/refusals.py). Transitions and audit events leave through the outbox (workflows/outbox.py);
a waiting or holding request continues as new when the server suggests it (workflows/carry.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, TypedSearchAttributes
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # The activity classes are imported for their methods' definitions (names, types), never called here.
    # Their modules import integration drivers and the store, but the worker imports them anyway, and a
    # passed-through module is imported once per process, not once per workflow run; front doors that
    # import this module for its update references pay a few hundred milliseconds once (measured, see
    # docs/architecture.md). Typed stubs would save that at the price of a second list of activity names to
    # keep in step with activities/ — the drift this contract is meant to rule out.
    from pydantic import ValidationError

    from activities.grants import GrantActivities
    from activities.policy import PolicyActivities
    from grantflow.domain import policy
    from grantflow.domain.models import (
        AccessStatus,
        Approval,
        ApprovePayload,
        ExtendPayload,
        GrantItem,
        GrantResult,
        RejectPayload,
        RevokePayload,
        StatusView,
        TransitionKind,
        WorkflowInput,
    )
    from grantflow.domain.ops import ItemOp
    from grantflow.domain.search_attributes import search_attributes_for

    # Deterministic helpers without module state: passed through, so a new run does not re-import them.
    from workflows.carry import carry, next_input, restore
    from workflows.outbox import Outbox
    from workflows.refusals import MIN_TIMER, Refusals
    from workflows.state import RequestState, summary_line

__all__ = ["AccessRequestWorkflow", "summary_line"]

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
# Histories begun before local-first publishing replay with the remote-only publisher.
FAST_PUBLISH_PATCH = "publish-local-first"
# An extension the target refused keeps the old expiry and is not counted (before: counted, published as
# "extended" with the failure only in the audit trail).
EXTEND_FAILED_PATCH = "extend-failure-keeps-expiry"
EXTEND_FAILED_REASON = "extension failed"
# A waiting or holding request continues as new when the server suggests it; older histories replay as
# they were recorded.
CONTINUE_AS_NEW_PATCH = "continue-as-new"
# How long a run waits for an in-flight publish before it continues as new anyway, carrying that batch.
CONTINUE_DRAIN_TIMEOUT = timedelta(minutes=1)

P = TypeVar("P", ApprovePayload, RejectPayload, ExtendPayload, RevokePayload)
ItemActivity = Callable[[GrantActivities, ItemOp], Awaitable[dict[str, Any]]]


@workflow.defn(name="AccessRequestWorkflow")
class AccessRequestWorkflow:
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        c = inp.carried
        self._s = RequestState(inp) if c is None else restore(inp, c)
        self._out = Outbox(inp.request_id, self._view)
        if c is not None:
            self._out = Outbox(inp.request_id, self._view, seq=c.seq, events=c.events, pending=c.outbox)
        self._refusals = Refusals(self._out, c.refusals if c is not None else None)
        self._continue_enabled = False
        # What the search attributes hold now: set at start (or passed on by the previous run), kept current
        # by _transition.
        self._indexed: dict[str, Any] = {p.key.name: p.value for p in search_attributes_for(self._view())}

    # --- run -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: WorkflowInput) -> StatusView:
        s = self._s
        self._out.local_first = workflow.patched(FAST_PUBLISH_PATCH)
        self._continue_enabled = workflow.patched(CONTINUE_AS_NEW_PATCH)
        if inp.carried is not None:
            return await self._resume()
        self._out.event(
            s.spec.requester,
            "request",
            detail={
                "grantee": s.spec.grantee,
                "items": [i.model_dump() for i in s.spec.items],
                "duration_seconds": s.spec.duration_seconds,
                "justification": s.spec.justification,
                "bundle": s.spec.bundle,
                "source": s.spec.source,
            },
        )
        s.decision = await workflow.execute_local_activity_method(
            PolicyActivities.resolve_policy, s.spec, start_to_close_timeout=timedelta(seconds=30)
        )
        publisher = asyncio.create_task(self._out.run())
        if not s.decision.allowed:
            self._finish(AccessStatus.FAILED, f"policy: {s.decision.reason}", TransitionKind.FAILED)
        else:
            self._transition(TransitionKind.SUBMITTED)
            if await self._await_approval():
                await self._grant_and_hold()
        return await self._close(publisher)

    async def _resume(self) -> StatusView:
        """A continued run: the request goes on where the previous run left it (waiting or holding)."""
        workflow.set_current_details(summary_line(self._view()))
        publisher = asyncio.create_task(self._out.run())
        if self._s.status == AccessStatus.PENDING_APPROVAL:
            if await self._await_approval():
                await self._grant_and_hold()
        else:
            await self._hold(fresh=False)
            await self._end_access()
        return await self._close(publisher)

    async def _close(self, publisher: asyncio.Task[None]) -> StatusView:
        self._refusals.flush()
        self._out.closing = True
        await publisher
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._view()

    async def _await_approval(self) -> bool:
        """True when approved; otherwise the request has ended (rejected, withdrawn, timed out)."""
        s, d = self._s, self._s.d
        if d.approvals_required == 0:
            self._out.event("grantflow", "approve", reason="automatic approval (approvals_required: 0)")
            return True
        # Time is counted by the timers that fired (they are in history), never by re-reading the clock:
        # the time a worker sees for a retried workflow task can lag, and a decision taken on it would not
        # replay (seen under load when a task timed out while the server was down).
        total = timedelta(seconds=d.approval_timeout_seconds)
        interval = timedelta(seconds=max(60, d.approval_reminder_seconds))
        # A continued run goes on from the time its predecessor had waited (both measured on history's clock).
        waited = s.approval_waited
        if s.carried_at is not None:
            waited += max(workflow.now() - s.carried_at, timedelta(0))
        while True:
            # Reminders fall on whole intervals of waiting; a fresh run starts on one (one interval per step).
            step = max(min(interval - waited % interval, total - waited), MIN_TIMER)
            started = workflow.now()
            try:
                await workflow.wait_condition(
                    lambda: s.approved() or s.rejected_by is not None or s.revoke_by is not None or self._continue_due(),
                    timeout=step,
                    timeout_summary="approval wait",
                )
            except TimeoutError:
                waited += step
                if waited >= total:
                    self._finish(AccessStatus.FAILED, APPROVAL_TIMEOUT_REASON, TransitionKind.APPROVAL_TIMEOUT)
                    return False
                self._out.event("grantflow", "approval_reminder", outcome="info")
                self._transition(TransitionKind.APPROVAL_REMINDER)
                continue
            if s.rejected_by is not None:
                self._finish(AccessStatus.REJECTED, s.reason, TransitionKind.REJECTED)
                return False
            if s.revoke_by is not None:
                self._finish(AccessStatus.REVOKED, s.revoked_reason("withdrawn"), TransitionKind.REVOKED)
                return False
            if s.approved() or not self._continue_due():
                return True
            s.approval_waited = waited + min(max(workflow.now() - started, timedelta(0)), step)
            draining = workflow.now()
            await self._continue_as_new()
            # A decision came in while publishing: act on it in this run (the time spent still counts).
            waited = s.approval_waited + max(workflow.now() - draining, timedelta(0))

    async def _grant_and_hold(self) -> None:
        s = self._s
        now = workflow.now()
        s.granted_at = now
        s.expires_at = now + timedelta(seconds=s.spec.duration_seconds)
        self._out.hold(True)
        self._set_status(AccessStatus.GRANTING, "", TransitionKind.GRANTING)
        results = await asyncio.gather(*(self._grant(item) for item in s.spec.items))
        self._out.hold(False)
        s.granted = [r.item for r in results if r.ok]
        failures = [r for r in results if not r.ok]
        if failures:
            reason = "grant failed: " + "; ".join(f"{r.item.label()}: {r.error}" for r in failures)
            if s.granted:
                self._out.hold(True)
                self._set_status(
                    AccessStatus.REVOKING, reason + " (undoing the grants that succeeded)", TransitionKind.REVOKING
                )
                await self._revoke_all()
            self._finish(AccessStatus.FAILED, reason, TransitionKind.FAILED)
            return
        if s.revoke_by is None:
            self._set_status(AccessStatus.ACTIVE, "", TransitionKind.ACTIVE)
            await self._hold()
        await self._end_access()

    async def _end_access(self) -> None:
        s = self._s
        self._out.hold(True)
        self._set_status(
            AccessStatus.REVOKING, s.revoked_reason("expired") if s.revoke_by else "expired", TransitionKind.REVOKING
        )
        await self._revoke_all()
        if s.revoke_by is not None:
            self._finish(AccessStatus.REVOKED, s.revoked_reason("revoked"), TransitionKind.REVOKED)
        else:
            self._finish(AccessStatus.EXPIRED, "expired", TransitionKind.EXPIRED)

    async def _hold(self, fresh: bool = True) -> None:
        """Stay ACTIVE until expiry or revocation, reminding before the end and applying extensions."""
        s, ext = self._s, self._s.d.extension
        if fresh and ext.enabled and ext.max_extensions > 0 and s.spec.duration_seconds <= ext.notify_before_seconds:
            # Granted for less than the reminder lead: offer the extension at once (decided on recorded
            # durations, not on the clock).
            s.reminded_for = s.expires_at
            self._remind()
        while s.revoke_by is None:
            assert s.expires_at is not None
            wake = s.expires_at
            remind_at = None
            if ext.enabled and s.extensions_used < ext.max_extensions and s.reminded_for != s.expires_at:
                remind_at = s.expires_at - timedelta(seconds=ext.notify_before_seconds)
                wake = remind_at
            # Always a timer, even when the moment has passed: whether one is started must not depend on the
            # clock, which a retried workflow task can see late (see _await_approval).
            try:
                await workflow.wait_condition(
                    lambda: s.revoke_by is not None or s.extends_pending > 0 or self._continue_due(),
                    timeout=max(wake - workflow.now(), MIN_TIMER),
                    timeout_summary="until reminder" if remind_at else "until expiry",
                )
            except TimeoutError:
                # Decide by which timer fired, not by re-reading the clock (see _await_approval).
                if s.extends_pending:
                    await self._apply_extensions()
                elif remind_at is None:
                    return
                else:
                    s.reminded_for = s.expires_at
                    self._remind()
                continue
            if s.extends_pending:
                await self._apply_extensions()
            elif s.revoke_by is None and self._continue_due():
                await self._continue_as_new()

    def _remind(self) -> None:
        s = self._s
        s.extension_offered = True
        expires_at = s.expires_at.isoformat() if s.expires_at else None
        self._out.event("grantflow", "expiry_reminder", outcome="info", detail={"expires_at": expires_at})
        self._transition(TransitionKind.EXPIRY_REMINDER)

    # --- continue-as-new -----------------------------------------------------------------------------

    def _continue_due(self) -> bool:
        return self._continue_enabled and workflow.info().is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        """Hand the whole state to a fresh run of the same workflow id, once every message handled so far is
        published: the history starts again near empty, and nothing of the request is lost. Returns (without
        continuing) when a decision arrived meanwhile, for the caller to act on first."""
        self._refusals.flush()
        # A publish still in flight after the timeout goes with the state and runs again.
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._out.idle() and workflow.all_handlers_finished(),
                timeout=CONTINUE_DRAIN_TIMEOUT,
                timeout_summary="publish before continue-as-new",
            )
        if self._s.decision_pending():
            return
        # Carried with the state and published by the new run.
        history_length = workflow.info().get_current_history_length()
        detail = {"run": self._s.run + 1, "history_length": history_length}
        self._out.event("grantflow", "continue_as_new", outcome="info", detail=detail)
        view = self._view()
        carried = carry(self._s, self._out, self._refusals, workflow.now())
        workflow.continue_as_new(
            next_input(self._s.inp, carried), search_attributes=TypedSearchAttributes(search_attributes_for(view))
        )

    # --- grants, extensions, revocation ---------------------------------------------------------------

    async def _grant(self, item: GrantItem) -> GrantResult:
        try:
            details = await self._item(GrantActivities.grant_item, item, GRANT_RETRY)
        except ActivityError as exc:
            self._out.event("grantflow", "grant", outcome="failed", reason=_cause(exc), detail=item.model_dump())
            return GrantResult(item=item, ok=False, error=_cause(exc))
        self._out.event("grantflow", "grant", detail={**item.model_dump(), "access": details})
        return GrantResult(item=item, ok=True, details=details)

    async def _apply_extensions(self) -> None:
        s = self._s
        applying, s.extends_pending = s.extends_pending, 0
        assert s.expires_at is not None
        results = await asyncio.gather(
            *(self._item(GrantActivities.extend_item, item, EXTEND_RETRY) for item in s.granted),
            return_exceptions=True,
        )
        errors = [
            f"{item.label()}: {_cause(r)}" for item, r in zip(s.granted, results, strict=True) if isinstance(r, BaseException)
        ]
        if errors and workflow.patched(EXTEND_FAILED_PATCH):
            self._extension_failed(applying, errors)
            return
        if errors:
            self._out.event("grantflow", "extend_target", outcome="failed", reason="; ".join(errors))
        elif s.reason.startswith(EXTEND_FAILED_REASON):
            s.reason = ""
        self._transition(TransitionKind.EXTENDED)

    def _extension_failed(self, applying: int, errors: list[str]) -> None:
        """The target refused (every retry): access ends when it says, so the request keeps its old expiry,
        the extension is not counted (it can be asked for again) and the person is told why."""
        s, ext = self._s, self._s.d.extension
        assert s.expires_at is not None
        # Extensions asked for while this round ran stay pending on top of the kept expiry.
        s.expires_at -= timedelta(seconds=ext.duration_seconds * applying)
        s.extensions_used = max(0, s.extensions_used - applying)
        s.extension_offered = s.extensions_used < ext.max_extensions
        s.reason = f"{EXTEND_FAILED_REASON}: {'; '.join(errors)}; access still ends at {s.expires_at:%Y-%m-%d %H:%M} UTC"
        detail = {"expires_at": s.expires_at.isoformat(), "extensions_used": s.extensions_used}
        self._out.event("grantflow", "extend_failed", outcome="failed", reason=s.reason, detail=detail)
        self._transition(TransitionKind.EXTEND_FAILED)

    async def _revoke_all(self) -> None:
        await asyncio.gather(*(self._revoke(item) for item in self._s.granted))
        self._out.hold(False)

    async def _revoke(self, item: GrantItem) -> None:
        s = self._s
        backoff = timedelta(seconds=5)
        while True:
            try:
                await self._item(GrantActivities.revoke_item, item, REVOKE_RETRY)
                self._out.event("grantflow", "revoke", detail=item.model_dump())
                return
            except ActivityError as exc:
                s.reason = f"revoke of {item.label()} failed, retrying: {_cause(exc)}"
                self._out.event("grantflow", "revoke", outcome="failed", reason=s.reason, detail=item.model_dump())
                self._out.hold(False)
                self._transition(TransitionKind.REVOKE_RETRY)
                await workflow.sleep(backoff, summary="revoke backoff")
                backoff = min(backoff * 2, REVOKE_ROUND_BACKOFF_MAX)

    async def _item(self, activity: ItemActivity, item: GrantItem, retry: RetryPolicy) -> dict[str, Any]:
        s = self._s
        assert s.expires_at is not None
        op = ItemOp(
            request_id=s.inp.request_id, requester=s.spec.requester, grantee=s.spec.grantee, item=item,
            expires_at=s.expires_at,
        )
        return await workflow.execute_activity_method(
            activity,
            op,
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=ITEM_HEARTBEAT_TIMEOUT,
            retry_policy=retry,
            summary=f"{activity.__name__.removesuffix('_item')} {item.label()}",  # "grant …", "extend …", "revoke …"
        )

    # --- state changes -----------------------------------------------------------------------------

    def _set_status(self, status: AccessStatus, reason: str, kind: TransitionKind) -> None:
        self._s.status = status
        self._s.reason = reason
        if status != AccessStatus.ACTIVE:
            self._s.extension_offered = False
        self._transition(kind)

    def _finish(self, status: AccessStatus, reason: str, kind: TransitionKind) -> None:
        self._s.ended_at = workflow.now()
        outcome = "failed" if status == AccessStatus.FAILED else "ok"
        self._out.event("grantflow", kind.value, outcome=outcome, reason=reason)
        self._set_status(status, reason, kind)

    def _transition(self, kind: TransitionKind) -> None:
        view = self._view()
        # Upsert only what changed: each upsert is a command the server indexes, and most of what a request
        # costs the server beyond the Temporal floor (bench/README.md).
        changed = [p for p in search_attributes_for(view) if self._indexed.get(p.key.name) != p.value]
        if changed:
            workflow.upsert_search_attributes([p.key.value_set(p.value) for p in changed])
            self._indexed.update({p.key.name: p.value for p in changed})
        workflow.set_current_details(summary_line(view))
        self._out.transition(kind, view)

    def _view(self) -> StatusView:
        return self._s.view(workflow.info().workflow_id)

    # --- messages: one handler each, reached by signal or update --------------------------------------

    def _parse(self, model: type[P], raw: Any, action: str) -> P | str:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            return f"malformed {action} payload: {where}: {first['msg']}"

    async def _judged(
        self, model: type[P], raw: Any, action: str, actor_key: str, strict: bool, why_not: Callable[[P], str | None]
    ) -> P | None:
        """The payload when the message counts; None when it was refused (audited, and raised for an update)."""
        p = self._parse(model, raw, action)
        if isinstance(p, str):
            actor = raw.get(actor_key) if isinstance(raw, dict) else None
            self._refusals.refuse(action, str(actor)[:320] if actor else "unknown", p, strict)
            return None
        await workflow.wait_condition(lambda: self._s.decision is not None)
        why = why_not(p)
        if why:
            self._refusals.refuse(action, getattr(p, actor_key), why, strict)
            return None
        return p

    async def _on_approve(self, raw: Any, strict: bool) -> StatusView:
        p = await self._judged(ApprovePayload, raw, "approve", "approver", strict, self._s.why_not_approve)
        if p is not None:
            s = self._s
            approver = policy.normalize_email(p.approver)
            comment = p.comment or p.reason
            s.approvals.append(Approval(approver=approver, comment=comment, at=workflow.now(), break_glass=p.break_glass))
            if p.break_glass:
                detail: dict[str, Any] = {"break_glass": True, "comment": p.comment}
                self._out.event(approver, "approve", reason=p.reason, detail=detail)
            else:
                self._out.event(approver, "approve", reason=p.comment, detail={"comment": p.comment})
            if not s.approved():
                self._transition(TransitionKind.APPROVAL)
        return self._view()

    async def _on_reject(self, raw: Any, strict: bool) -> StatusView:
        p = await self._judged(RejectPayload, raw, "reject", "approver", strict, self._s.why_not_reject)
        if p is not None:
            s = self._s
            s.rejected_by = policy.normalize_email(p.approver)
            s.reason = f"rejected by {s.rejected_by}" + (f": {p.reason}" if p.reason else "")
            self._out.event(s.rejected_by, "reject", reason=p.reason)
        return self._view()

    async def _on_extend(self, raw: Any, strict: bool) -> StatusView:
        p = await self._judged(ExtendPayload, raw, "extend", "actor", strict, self._s.why_not_extend)
        if p is not None:
            s = self._s
            assert s.expires_at is not None
            old = s.expires_at
            s.expires_at = old + timedelta(seconds=s.d.extension.duration_seconds)
            s.extensions_used += 1
            s.extends_pending += 1
            s.extension_offered = False
            detail = {"from": old.isoformat(), "to": s.expires_at.isoformat(), "extensions_used": s.extensions_used}
            self._out.event(policy.normalize_email(p.actor), "extend", detail=detail)
        return self._view()

    async def _on_revoke(self, raw: Any, strict: bool) -> StatusView:
        p = await self._judged(RevokePayload, raw, "revoke", "actor", strict, self._s.why_not_revoke)
        if p is not None:
            s = self._s
            s.revoke_by = policy.normalize_email(p.actor)
            s.revoke_reason = p.reason
            self._out.event(s.revoke_by, "revoke_request", reason=p.reason)
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

    # Validators answer at once, before anything is written to history, by the handlers' own rules. They
    # need the recorded policy decision; in the instant before it exists, the handler judges instead.

    def _validate(self, model: type[P], raw: Any, action: str, why_not: Callable[[P], str | None]) -> None:
        p = self._parse(model, raw, action)
        if isinstance(p, str):
            raise ValueError(p)
        why = why_not(p) if self._s.decision is not None else None
        if why:
            raise ValueError(why)

    @approve_update.validator
    def _validate_approve(self, raw: Any = None) -> None:
        self._validate(ApprovePayload, raw, "approve", self._s.why_not_approve)

    @reject_update.validator
    def _validate_reject(self, raw: Any = None) -> None:
        self._validate(RejectPayload, raw, "reject", self._s.why_not_reject)

    @extend_update.validator
    def _validate_extend(self, raw: Any = None) -> None:
        self._validate(ExtendPayload, raw, "extend", self._s.why_not_extend)

    @revoke_update.validator
    def _validate_revoke(self, raw: Any = None) -> None:
        self._validate(RevokePayload, raw, "revoke", self._s.why_not_revoke)

    @workflow.query(name="status")
    def status(self) -> StatusView:
        return self._view()


def _cause(exc: BaseException) -> str:
    """The innermost message of an activity failure: what actually went wrong."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return str(exc) or type(exc).__name__
