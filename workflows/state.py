"""What one access request's workflow knows: its lifecycle state, the view it answers with, and the rules
that judge each decision on it (one `why_not_<action>` each, for the handler and the update validator).

Plain data and pure functions: no Temporal call, no I/O, no clock. The workflow changes this state; the
continue-as-new carry (workflows/carry.py) copies it to the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from grantflow.domain import policy
    from grantflow.domain.models import (
        AccessStatus,
        Approval,
        ApprovePayload,
        ExtendPayload,
        GrantItem,
        PolicyDecision,
        RefusedDecision,
        RejectPayload,
        RequestSpec,
        RevokePayload,
        StatusView,
        WorkflowInput,
    )
    from grantflow.domain.ops import ItemOp
    from grantflow.domain.proofs import Verdict

EXTEND_FAILED_REASON = "extension failed"
# How many refused decisions the status view shows (the newest; the audit trail keeps every one).
REFUSED_SHOWN = 5

P = TypeVar("P", ApprovePayload, RejectPayload, ExtendPayload, RevokePayload)


@dataclass
class RequestState:
    inp: WorkflowInput
    status: AccessStatus = AccessStatus.PENDING_APPROVAL
    reason: str = ""
    decision: PolicyDecision | None = None
    approvals: list[Approval] = field(default_factory=list)
    rejected_by: str | None = None
    revoke_by: str | None = None
    revoke_reason: str = ""
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    extensions_used: int = 0
    # Extensions accepted by the handler that the main loop has not applied to the targets yet.
    extends_pending: int = 0
    extension_offered: bool = False
    reminded_for: datetime | None = None
    granted: list[GrantItem] = field(default_factory=list)
    # The approval wait so far, as of `carried_at` (set in a continued run, see workflows/carry.py).
    approval_waited: timedelta = timedelta(0)
    carried_at: datetime | None = None
    run: int = 1
    # Approvers added by escalation steps (workflows/escalation.py), judged as the decision's own.
    escalated: list[str] = field(default_factory=list)
    # How the submission was proven (None: a history begun before verification), and whether an unproven
    # submission to an automatic flow under `decisions: enforce` waits for a human approval.
    submitted_via: str = ""
    submission_verified: bool | None = None
    human_required: bool = False
    # The last decisions the workflow refused (REFUSED_SHOWN at most, newest last), for the status view.
    refused: list[RefusedDecision] = field(default_factory=list)

    @property
    def spec(self) -> RequestSpec:
        return self.inp.spec

    @property
    def d(self) -> PolicyDecision:
        """The recorded policy decision (present once the run has resolved it)."""
        assert self.decision is not None
        return self.decision

    @property
    def judged(self) -> PolicyDecision:
        """The decision the rules judge by: the recorded one with the approvers escalation added."""
        if not self.escalated:
            return self.d
        return self.d.model_copy(update={"approvers": [*self.d.approvers, *self.escalated]})

    def required(self) -> int:
        """Approvals needed: the flow's, or one human approval for an unproven automatic submission."""
        return max(self.d.approvals_required, 1 if self.human_required else 0)

    def approved(self) -> bool:
        return any(a.break_glass or a.automatic for a in self.approvals) or len(self.approvals) >= self.required()

    def submission(self, verdict: Verdict) -> None:
        self.submitted_via, self.submission_verified = verdict.via, verdict.verified

    def guard_submission(self) -> bool:
        """Under `enforce`, an unproven submission to an automatic flow waits for a human approver of the flow
        (the reason says so), or fails when the flow has none (True: the reason says why)."""
        if self.submission_verified is not False or self.d.decisions != "enforce" or self.d.approvals_required:
            return False
        if not self.d.approvers:
            self.reason = (
                "unverified submission: this automatic flow accepts only requests made through grantflow "
                "(Slack, MCP or a CLI holding the decision key), and it has no approver to ask instead"
            )
            return True
        self.human_required = True
        self.reason = "unverified submission (Temporal API): waiting for a human approval"
        return False

    def decision_pending(self) -> bool:
        """A message that the main loop must act on (state that is not carried to a new run)."""
        return (
            self.rejected_by is not None
            or self.revoke_by is not None
            or self.extends_pending > 0
            or (self.status == AccessStatus.PENDING_APPROVAL and self.approved())
        )

    def revoked_reason(self, default: str) -> str:
        if self.revoke_by is None:
            return default
        text = f"{default} by {self.revoke_by}"
        return f"{text}: {self.revoke_reason}" if self.revoke_reason else text

    # --- the decisions: None when the message counts, else why it is refused -------------------------

    def why_not_approve(self, p: ApprovePayload) -> str | None:
        already = [a.approver for a in self.approvals]
        return (
            policy.judge_approve(self.judged, self.spec, self.status, already, p.approver, p.break_glass, p.reason)
            or self._decided_already()
        )

    def why_not_reject(self, p: RejectPayload) -> str | None:
        return policy.judge_reject(self.judged, self.spec, self.status, p.approver) or self._decided_already()

    def why_not_extend(self, p: ExtendPayload) -> str | None:
        return policy.judge_extend(self.d, self.spec, self.status, self.extensions_used, p.actor)

    def why_not_revoke(self, p: RevokePayload) -> str | None:
        return policy.judge_revoke(self.judged, self.spec, self.status, p.actor) or (
            f"already being revoked by {self.revoke_by}" if self.revoke_by is not None else None
        )

    def _decided_already(self) -> str | None:
        """Between the deciding message and the main loop noticing it, the status is still pending."""
        if self.rejected_by is not None:
            return f"the request was already rejected by {self.rejected_by}"
        if self.decision is not None and self.status == AccessStatus.PENDING_APPROVAL and self.approved():
            return "the request is already approved"
        if self.revoke_by is not None:
            return f"the request was withdrawn by {self.revoke_by}"
        return None

    def note_refused(self, action: str, actor: str, reason: str, at: datetime) -> None:
        """Keep a refused decision for the status view (workflows/refusals.py calls this for each one)."""
        self.refused.append(RefusedDecision(action=action, actor=actor[:320], reason=reason[:500], at=at))
        del self.refused[:-REFUSED_SHOWN]

    # --- what an accepted message changes ----------------------------------------------------------------

    def approve(self, p: ApprovePayload, at: datetime, verdict: Verdict | None = None) -> Approval:
        approver = policy.normalize_email(p.approver)
        approval = Approval(approver=approver, comment=p.comment or p.reason, at=at, break_glass=p.break_glass)
        if verdict is not None:
            approval.via, approval.verified = verdict.via, verdict.verified
        self.approvals.append(approval)
        return approval

    def reject(self, p: RejectPayload) -> str:
        self.rejected_by = policy.normalize_email(p.approver)
        self.reason = f"rejected by {self.rejected_by}" + (f": {p.reason}" if p.reason else "")
        return self.rejected_by

    def extend(self) -> datetime:
        """One more extension, applied to the targets by the main loop; returns the expiry it replaces."""
        assert self.expires_at is not None
        old = self.expires_at
        self.expires_at = old + timedelta(seconds=self.d.extension.duration_seconds)
        self.extensions_used += 1
        self.extends_pending += 1
        self.extension_offered = False
        return old

    def revoke(self, p: RevokePayload) -> str:
        self.revoke_by = policy.normalize_email(p.actor)
        self.revoke_reason = p.reason
        return self.revoke_by

    def keep_expiry(self, undone: int, errors: list[str]) -> None:
        """The target refused `undone` extensions (every retry): access ends when it says, so the request keeps
        its old expiry, the extensions are not counted (they can be asked for again) and the reason says why."""
        ext = self.d.extension
        assert self.expires_at is not None
        # Extensions asked for while this round ran stay pending on top of the kept expiry.
        self.expires_at -= timedelta(seconds=ext.duration_seconds * undone)
        self.extensions_used = max(0, self.extensions_used - undone)
        self.extension_offered = self.extensions_used < ext.max_extensions
        ends = f"{self.expires_at:%Y-%m-%d %H:%M} UTC"
        self.reason = f"{EXTEND_FAILED_REASON}: {'; '.join(errors)}; access still ends at {ends}"

    # --- what the activities and the audit trail are given ----------------------------------------------

    def item_op(self, item: GrantItem) -> ItemOp:
        assert self.expires_at is not None
        spec = self.spec
        return ItemOp(
            request_id=self.inp.request_id,
            requester=spec.requester,
            grantee=spec.grantee,
            item=item,
            expires_at=self.expires_at,
        )

    def request_detail(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "grantee": spec.grantee,
            "items": [i.model_dump() for i in spec.items],
            "duration_seconds": spec.duration_seconds,
            "justification": spec.justification,
            "bundle": spec.bundle,
            "source": spec.source,
        }

    # --- what the status query answers ---------------------------------------------------------------

    def _next_escalation(self) -> dict[str, Any]:
        """While pending, the next escalation step not yet applied (a step's approvers are only new people)."""
        d = self.decision
        if d is None or self.status != AccessStatus.PENDING_APPROVAL:
            return {}
        ahead = [e for e in d.escalation if e.approvers and not set(e.approvers) <= set(self.escalated)]
        if not ahead:
            return {}
        step = min(ahead, key=lambda e: e.after_seconds)
        return {
            "escalates_at": self.inp.submitted_at + timedelta(seconds=step.after_seconds),
            "escalates_to": list(step.approvers),
        }

    def view(self, workflow_id: str) -> StatusView:
        d, spec = self.decision, self.spec
        return StatusView(
            request_id=self.inp.request_id,
            workflow_id=workflow_id,
            status=self.status,
            status_reason=self.reason,
            requester=spec.requester,
            grantee=spec.grantee,
            grants=spec.items,
            bundle=spec.bundle,
            justification=spec.justification,
            duration_seconds=spec.duration_seconds,
            flow_id=d.flow_id if d else "",
            flow_name=d.flow_name if d else "",
            approvers=[*d.approvers, *self.escalated] if d else [],
            approvals=self.approvals,
            approvals_required=self.required() if d else 0,
            approval_channel=d.approval_channel if d else None,
            rejected_by=self.rejected_by,
            submitted_at=self.inp.submitted_at,
            **self._next_escalation(),
            approval_deadline=(
                self.inp.submitted_at + timedelta(seconds=d.approval_timeout_seconds)
                if d and self.status == AccessStatus.PENDING_APPROVAL
                else None
            ),
            start_at=spec.start_at,
            granted_at=self.granted_at,
            expires_at=self.expires_at,
            ended_at=self.ended_at,
            extensions_used=self.extensions_used,
            max_extensions=d.extension.max_extensions if d else 0,
            extension_enabled=bool(d and d.extension.enabled),
            extension_offered=self.extension_offered,
            revoked_by=self.revoke_by,
            escalated_to=list(self.escalated),
            submitted_via=self.submitted_via,
            submission_verified=self.submission_verified,
            refused=list(self.refused),
        )


def parse(model: type[P], raw: Any, action: str) -> P | str:
    """The message's payload, or why it is malformed (signals carry raw JSON: see grantflow/domain/models.py)."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return f"malformed {action} payload: {where}: {first['msg']}"


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
    unverified = [a.approver for a in view.approvals if a.verified is False]
    if unverified:
        line += " · UNVERIFIED approval as " + ", ".join(unverified) + " (Temporal API)"
    return line
