"""AccessRequestWorkflow: the lifecycle of one access request, as a durable state machine.

PENDING_APPROVAL → GRANTING → ACTIVE → REVOKING → EXPIRED | REVOKED, with REJECTED and FAILED as the
other ends. Deterministic only: every side effect is an activity, called by its method. Signals and updates
share one handler per message so that a forged signal is judged by exactly the rules a Slack click is (one
`why_not_<action>` each, used by the handler and the update validator), and its proof by workflows/verify.py.

Beside it in workflows/, deterministic and without I/O: state.py (what the request knows, the rules of each
decision), outbox.py (audit events and transitions, published in order), refusals.py (refusals audited once a
minute per actor), items.py, carry.py (continue-as-new), oncall.py, schedule.py, escalation.py, verify.py,
steps.py (short steps as regular activities, not local ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # The activity classes, for their methods' names and types (never called here), passed through: imported
    # once per process (front doors pay 0.1-0.3 s once); typed stubs would be a second list of activity names.
    from activities.grants import GrantActivities
    from activities.policy import PolicyActivities
    from grantflow.domain.models import (
        AccessStatus,
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
    from grantflow.domain.policy import normalize_email
    from grantflow.domain.proofs import Verdict
    from grantflow.domain.search_attributes import search_attributes_for

    # The helpers beside this module keep no module state: passed through, a new run does not re-import them.
    from workflows.carry import continue_as_new, restore
    from workflows.ending import end
    from workflows.escalation import escalate, next_wait
    from workflows.items import EXTEND_RETRY, GRANT_RETRY, REVOKE_RETRY, call_item, cause
    from workflows.oncall import approve_if_on_call
    from workflows.outbox import Outbox
    from workflows.patches import CONTINUE_AS_NEW_PATCH, EXTEND_FAILED_PATCH, FAST_PUBLISH_PATCH
    from workflows.refusals import MIN_TIMER, Refusals
    from workflows.schedule import refused_start, wait_for_start
    from workflows.state import EXTEND_FAILED_REASON, P, RequestState, parse, summary_line
    from workflows.steps import Steps
    from workflows.verify import Verifier, marks

__all__ = ["AccessRequestWorkflow", "summary_line"]

APPROVAL_TIMEOUT_REASON = "approval timed out"
REVOKE_ROUND_BACKOFF_MAX = timedelta(minutes=5)


@workflow.defn(name="AccessRequestWorkflow")
class AccessRequestWorkflow:
    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        c = inp.carried
        self._s = RequestState(inp) if c is None else restore(inp, c)
        self._steps = Steps()  # the policy, proof checks, the start check, publishes: see workflows/steps.py
        self._out = Outbox(inp.request_id, self._view, self._steps, c)
        self._refusals = Refusals(self._out, c.refusals if c is not None else [], self._s.note_refused)
        self._verifier = Verifier(c.nonces if c is not None else [], self._steps)
        self._continue_enabled = False
        # What the search attributes hold: set at start (or by the previous run), kept current by _transition.
        self._indexed: dict[str, Any] = {p.key.name: p.value for p in search_attributes_for(self._view())}

    # --- run -------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: WorkflowInput) -> StatusView:
        s = self._s
        self._steps.start()
        self._out.local_first = workflow.patched(FAST_PUBLISH_PATCH) and not self._steps.remote
        self._continue_enabled = workflow.patched(CONTINUE_AS_NEW_PATCH)
        if inp.carried is not None:
            return await self._resume()
        proven = await self._verifier.submission(s, inp.proof) if self._verifier.enabled() else {}
        self._out.event(s.spec.requester, "request", detail={**s.request_detail(), **proven})
        s.decision = await self._steps.run(
            PolicyActivities.resolve_policy, s.spec, start_to_close_timeout=timedelta(seconds=30)
        )
        publisher = asyncio.create_task(self._out.run())
        why = s.decision.reason if not s.decision.allowed else refused_start(self)
        if not s.decision.allowed or why or s.guard_submission():
            self._finish(AccessStatus.FAILED, f"policy: {why}" if why is not None else s.reason, TransitionKind.FAILED)
        else:
            await approve_if_on_call(s, self._out)
            self._transition(TransitionKind.SUBMITTED)
            if await self._await_approval() and await wait_for_start(self):
                await self._grant_and_hold()
        return await self._close(publisher)

    async def _resume(self) -> StatusView:
        """A continued run: the request goes on where the previous run left it (waiting or holding)."""
        workflow.set_current_details(summary_line(self._view()))
        publisher = asyncio.create_task(self._out.run())
        if self._s.status == AccessStatus.PENDING_APPROVAL:
            if await self._await_approval() and await wait_for_start(self):
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
        return end(self._view())

    async def _await_approval(self) -> bool:
        """True when approved; otherwise the request has ended (rejected, withdrawn, timed out)."""
        s, d = self._s, self._s.d
        if s.required() == 0:
            detail = {"via": s.submitted_via, "verified": s.submission_verified} if s.submitted_via else None
            self._out.event("grantflow", "approve", reason="automatic approval (approvals_required: 0)", detail=detail)
        if s.required() == 0 or s.approved():  # approved by a rule before anyone was asked (workflows/oncall.py)
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
            step = next_wait(d, waited, total, interval)  # and escalation steps: workflows/escalation.py
            started = workflow.now()
            try:
                await workflow.wait_condition(
                    lambda: s.approved() or s.rejected_by is not None or s.revoke_by is not None or self._cont(),
                    timeout=step,
                    timeout_summary="approval wait",
                )
            except TimeoutError:
                waited += step
                if waited >= total:
                    self._finish(AccessStatus.FAILED, APPROVAL_TIMEOUT_REASON, TransitionKind.APPROVAL_TIMEOUT)
                    return False
                if escalate(s, self._out, self._transition, waited - step, waited, interval):
                    continue
                self._out.event("grantflow", "approval_reminder", outcome="info")
                self._transition(TransitionKind.APPROVAL_REMINDER)
                continue
            if s.rejected_by is not None:
                self._finish(AccessStatus.REJECTED, s.reason, TransitionKind.REJECTED)
                return False
            if s.revoke_by is not None:
                self._finish(AccessStatus.REVOKED, s.revoked_reason("withdrawn"), TransitionKind.REVOKED)
                return False
            if s.approved() or not self._cont():
                return True
            s.approval_waited = waited + min(max(workflow.now() - started, timedelta(0)), step)
            draining = workflow.now()
            await continue_as_new(s, self._out, self._refusals, self._verifier.nonces)
            # A decision came in while publishing: act on it in this run (the time spent still counts).
            waited = s.approval_waited + max(workflow.now() - draining, timedelta(0))

    async def _grant_and_hold(self) -> None:
        s = self._s
        s.granted_at = workflow.now()
        s.expires_at = s.granted_at + timedelta(seconds=s.spec.duration_seconds)
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
                undoing = reason + " (undoing the grants that succeeded)"
                self._set_status(AccessStatus.REVOKING, undoing, TransitionKind.REVOKING)
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
        reason = s.revoked_reason("expired") if s.revoke_by else "expired"
        self._set_status(AccessStatus.REVOKING, reason, TransitionKind.REVOKING)
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
                    lambda: s.revoke_by is not None or s.extends_pending > 0 or self._cont(),
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
            elif s.revoke_by is None and self._cont():
                await continue_as_new(s, self._out, self._refusals, self._verifier.nonces)

    def _remind(self) -> None:
        s = self._s
        s.extension_offered = True
        detail = {"expires_at": s.expires_at.isoformat() if s.expires_at else None}
        self._out.event("grantflow", "expiry_reminder", outcome="info", detail=detail)
        self._transition(TransitionKind.EXPIRY_REMINDER)

    def _cont(self) -> bool:
        """Continue as new now (workflows/carry.py): the server says the history is getting long."""
        return self._continue_enabled and workflow.info().is_continue_as_new_suggested()

    # --- grants, extensions, revocation ---------------------------------------------------------------

    async def _grant(self, item: GrantItem) -> GrantResult:
        try:
            details = await call_item(GrantActivities.grant_item, self._s.item_op(item), GRANT_RETRY)
        except ActivityError as exc:
            self._out.event("grantflow", "grant", outcome="failed", reason=cause(exc), detail=item.model_dump())
            return GrantResult(item=item, ok=False, error=cause(exc))
        self._out.event("grantflow", "grant", detail={**item.model_dump(), "access": details})
        return GrantResult(item=item, ok=True, details=details)

    async def _apply_extensions(self) -> None:
        s = self._s
        applying, s.extends_pending = s.extends_pending, 0
        results = await asyncio.gather(
            *(call_item(GrantActivities.extend_item, s.item_op(item), EXTEND_RETRY) for item in s.granted),
            return_exceptions=True,
        )
        failed = [(item, r) for item, r in zip(s.granted, results, strict=True) if isinstance(r, BaseException)]
        errors = [f"{item.label()}: {cause(exc)}" for item, exc in failed]
        if errors and workflow.patched(EXTEND_FAILED_PATCH):
            s.keep_expiry(applying, errors)
            assert s.expires_at is not None
            detail = {"expires_at": s.expires_at.isoformat(), "extensions_used": s.extensions_used}
            self._out.event("grantflow", "extend_failed", outcome="failed", reason=s.reason, detail=detail)
            self._transition(TransitionKind.EXTEND_FAILED)
            return
        if errors:
            self._out.event("grantflow", "extend_target", outcome="failed", reason="; ".join(errors))
        elif s.reason.startswith(EXTEND_FAILED_REASON):
            s.reason = ""
        self._transition(TransitionKind.EXTENDED)

    async def _revoke_all(self) -> None:
        await asyncio.gather(*(self._revoke(item) for item in self._s.granted))
        self._out.hold(False)

    async def _revoke(self, item: GrantItem) -> None:
        s = self._s
        backoff = timedelta(seconds=5)
        while True:
            try:
                await call_item(GrantActivities.revoke_item, s.item_op(item), REVOKE_RETRY)
                self._out.event("grantflow", "revoke", detail=item.model_dump())
                return
            except ActivityError as exc:
                s.reason = f"revoke of {item.label()} failed, retrying: {cause(exc)}"
                self._out.event("grantflow", "revoke", outcome="failed", reason=s.reason, detail=item.model_dump())
                self._out.hold(False)
                self._transition(TransitionKind.REVOKE_RETRY)
                await workflow.sleep(backoff, summary="revoke backoff")
                backoff = min(backoff * 2, REVOKE_ROUND_BACKOFF_MAX)

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

    async def _on_approve(self, raw: Any, strict: bool) -> StatusView:
        s = self._s
        if (j := await self._judged(ApprovePayload, raw, "approve", strict, s.why_not_approve, "approver")) is not None:
            p, v = j
            approval = s.approve(p, workflow.now(), v)
            detail = ({"break_glass": True} if p.break_glass else {}) | {"comment": p.comment, **marks(v)}
            self._out.event(
                approval.approver, "approve", reason=p.reason if p.break_glass else p.comment, detail=detail
            )
            if not s.approved():
                self._transition(TransitionKind.APPROVAL)
        return self._view()

    async def _on_reject(self, raw: Any, strict: bool) -> StatusView:
        s = self._s
        if (j := await self._judged(RejectPayload, raw, "reject", strict, s.why_not_reject, "approver")) is not None:
            self._out.event(s.reject(j[0]), "reject", reason=j[0].reason, detail=marks(j[1]))
        return self._view()

    async def _on_extend(self, raw: Any, strict: bool) -> StatusView:
        s = self._s
        if (j := await self._judged(ExtendPayload, raw, "extend", strict, s.why_not_extend, "actor")) is not None:
            old = s.extend()
            assert s.expires_at is not None
            detail = {"from": old.isoformat(), "to": s.expires_at.isoformat(), "extensions_used": s.extensions_used}
            self._out.event(normalize_email(j[0].actor), "extend", detail={**detail, **marks(j[1])})
        return self._view()

    async def _on_revoke(self, raw: Any, strict: bool) -> StatusView:
        s = self._s
        if (j := await self._judged(RevokePayload, raw, "revoke", strict, s.why_not_revoke, "actor")) is not None:
            self._out.event(s.revoke(j[0]), "revoke_request", reason=j[0].reason, detail=marks(j[1]))
        return self._view()

    async def _judged(
        self, model: type[P], raw: Any, action: str, strict: bool, why_not: Callable[[P], str | None], actor: str
    ) -> tuple[P, Verdict | None] | None:
        """The payload and its proof's verdict when it counts; None when refused (audited; raised for an update)."""
        p = parse(model, raw, action)
        if isinstance(p, str):
            who = raw.get(actor) if isinstance(raw, dict) else None
            self._refusals.refuse(action, str(who)[:320] if who else "unknown", p, strict)
            return None
        await workflow.wait_condition(lambda: self._s.decision is not None)
        why, verdict = await self._verifier.judge(p, action, getattr(p, actor), self._s.d.decisions, why_not)
        if why:
            self._refusals.refuse(action, getattr(p, actor), why, strict)
            return None
        return p, verdict

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

    # Validators answer at once by the handlers' rules (the proof is the handler's), once the policy is decided.

    def _validate(self, model: type[P], raw: Any, action: str, why_not: Callable[[P], str | None]) -> None:
        p = parse(model, raw, action)
        why = p if isinstance(p, str) else why_not(p) if self._s.decision is not None else None
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
