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
        RejectPayload,
        RequestSpec,
        RevokePayload,
        StatusView,
        WorkflowInput,
    )
    from grantflow.domain.ops import ItemOp

EXTEND_FAILED_REASON = "extension failed"

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

    @property
    def spec(self) -> RequestSpec:
        return self.inp.spec

    @property
    def d(self) -> PolicyDecision:
        """The recorded policy decision (present once the run has resolved it)."""
        assert self.decision is not None
        return self.decision

    def approved(self) -> bool:
        return any(a.break_glass for a in self.approvals) or len(self.approvals) >= self.d.approvals_required

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
            policy.judge_approve(self.d, self.spec, self.status, already, p.approver, p.break_glass, p.reason)
            or self._decided_already()
        )

    def why_not_reject(self, p: RejectPayload) -> str | None:
        return policy.judge_reject(self.d, self.spec, self.status, p.approver) or self._decided_already()

    def why_not_extend(self, p: ExtendPayload) -> str | None:
        return policy.judge_extend(self.d, self.spec, self.status, self.extensions_used, p.actor)

    def why_not_revoke(self, p: RevokePayload) -> str | None:
        return policy.judge_revoke(self.d, self.spec, self.status, p.actor) or (
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

    # --- what an accepted message changes ----------------------------------------------------------------

    def approve(self, p: ApprovePayload, at: datetime) -> Approval:
        approver = policy.normalize_email(p.approver)
        approval = Approval(approver=approver, comment=p.comment or p.reason, at=at, break_glass=p.break_glass)
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

    def item_op(self, item: GrantItem, counted: bool = False) -> ItemOp:
        """`counted`: a grant that counts the expiry from when it takes effect (workflows/items.py start_clock)."""
        assert self.expires_at is not None
        spec = self.spec
        return ItemOp(
            request_id=self.inp.request_id,
            requester=spec.requester,
            grantee=spec.grantee,
            item=item,
            expires_at=self.expires_at,
            duration_seconds=spec.duration_seconds if counted else None,
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
            approvers=d.approvers if d else [],
            approvals=self.approvals,
            approvals_required=d.approvals_required if d else 0,
            approval_channel=d.approval_channel if d else None,
            rejected_by=self.rejected_by,
            submitted_at=self.inp.submitted_at,
            granted_at=self.granted_at,
            expires_at=self.expires_at,
            ended_at=self.ended_at,
            extensions_used=self.extensions_used,
            max_extensions=d.extension.max_extensions if d else 0,
            extension_enabled=bool(d and d.extension.enabled),
            extension_offered=self.extension_offered,
            revoked_by=self.revoke_by,
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
    return line
