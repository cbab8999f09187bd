"""Shared domain models: what crosses the boundaries between front doors, workflows and activities.

Every model here is a pydantic v2 model so that the Temporal pydantic data converter carries it
through workflow history unchanged, and so that front doors validate input at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from grantflow.domain.proofs import Proof


class AccessStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    # Approved, waiting for the start time the requester asked for (`start_at`).
    SCHEDULED = "SCHEDULED"
    GRANTING = "GRANTING"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    REVOKING = "REVOKING"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({AccessStatus.REJECTED, AccessStatus.REVOKED, AccessStatus.EXPIRED, AccessStatus.FAILED})


class GrantItem(BaseModel):
    """One thing to grant: a permission on one resource of one integration."""

    model_config = ConfigDict(frozen=True)

    integration: str
    resource_type: str
    resource: str
    permission: str

    def label(self) -> str:
        return f"{self.integration}/{self.resource_type}:{self.resource} ({self.permission})"


class RequestSpec(BaseModel):
    """What a person asks for, exactly as a front door submits it."""

    requester: str
    grantee: str
    items: list[GrantItem]
    bundle: str | None = None
    duration_seconds: int
    justification: str = ""
    source: str = "cli"
    # When access should begin (UTC); None = as soon as approved. The duration counts from the grant.
    start_at: datetime | None = None

    @field_validator("start_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class ExtensionRules(BaseModel):
    enabled: bool = False
    max_extensions: int = 0
    duration_seconds: int = 0
    notify_before_seconds: int = 0


class Escalation(BaseModel):
    """One escalation step of the decided flow: approvers added while the request is still pending `after_seconds`
    after submission (people, without the requester, the grantee or anyone already an approver)."""

    after_seconds: int
    approvers: list[str] = Field(default_factory=list)
    notify: str | None = None


class PolicyDecision(BaseModel):
    """The access-flow decision for one request, snapshotted into history by an activity."""

    allowed: bool
    reason: str = ""
    flow_id: str = ""
    flow_name: str = ""
    approvers: list[str] = Field(default_factory=list)
    approvals_required: int = 0
    approval_channel: str | None = None
    approval_timeout_seconds: int = 7 * 24 * 3600
    approval_reminder_seconds: int = 24 * 3600
    max_duration_seconds: int = 0
    duration_seconds: int = 0
    extension: ExtensionRules = Field(default_factory=ExtensionRules)
    admins: list[str] = Field(default_factory=list)
    escalation: list[Escalation] = Field(default_factory=list)
    max_schedule_ahead_seconds: int = 14 * 24 * 3600
    # The flow's `auto_approve_if_oncall`: a request from the person on call for it is approved automatically.
    oncall_schedule: str | None = None
    # `decisions:` of the flow (or the file): whether an unproven decision is refused or only marked.
    decisions: Literal["enforce", "audit"] = "audit"


class Approval(BaseModel):
    approver: str
    comment: str = ""
    at: datetime
    break_glass: bool = False
    # An approval grantflow made by a rule (on call for a schedule): it completes the quorum on its own.
    automatic: bool = False
    # The front door that proved the decision (slack, mcp, cli), or "temporal" when none did; empty (and
    # `verified` None) for approvals recorded before decisions were verified.
    via: str = ""
    verified: bool | None = None


class RefusedDecision(BaseModel):
    """A decision the workflow refused (policy, proof or `decisions: enforce`): what, by whom, why, when."""

    action: str
    actor: str
    reason: str
    at: datetime


class GrantResult(BaseModel):
    """Outcome of granting one item. `details` is what the grantee needs (no secrets: see docs/security.md)."""

    item: GrantItem
    ok: bool
    details: dict[str, Any] = Field(default_factory=dict)
    error: str = ""


class StatusView(BaseModel):
    """The `status` query answer (contract: at least these fields)."""

    request_id: str
    workflow_id: str
    status: AccessStatus
    status_reason: str = ""
    requester: str
    grantee: str
    grants: list[GrantItem]
    bundle: str | None = None
    justification: str = ""
    duration_seconds: int
    flow_id: str = ""
    flow_name: str = ""
    approvers: list[str] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    approvals_required: int = 0
    approval_channel: str | None = None
    rejected_by: str | None = None
    submitted_at: datetime
    # While pending: when the request fails for want of approval (submitted_at + the flow's approval timeout).
    approval_deadline: datetime | None = None
    # While pending: the next escalation step still to come (when, and whom it adds).
    escalates_at: datetime | None = None
    escalates_to: list[str] = Field(default_factory=list)
    start_at: datetime | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None
    extensions_used: int = 0
    max_extensions: int = 0
    extension_enabled: bool = False
    extension_offered: bool = False
    revoked_by: str | None = None
    # Approvers added by escalation steps (also in `approvers`), in the order they were added.
    escalated_to: list[str] = Field(default_factory=list)
    # How the request was submitted (see Approval.via); empty for requests begun before verification.
    submitted_via: str = ""
    submission_verified: bool | None = None
    # The last decisions the workflow refused, newest last (a few: the audit trail has them all).
    refused: list[RefusedDecision] = Field(default_factory=list)


AuditOutcome = Literal["ok", "refused", "failed", "info"]


class AuditEvent(BaseModel):
    """One line of the audit trail. `key` makes writes idempotent under activity retries."""

    key: str
    request_id: str
    at: datetime
    actor: str
    action: str
    outcome: AuditOutcome = "ok"
    reason: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class TransitionKind(StrEnum):
    """What happened, as notifiers read it. The values are in recorded histories: never rename one."""

    SUBMITTED = "submitted"
    APPROVAL = "approval"
    APPROVAL_REMINDER = "approval_reminder"
    APPROVAL_TIMEOUT = "approval_timeout"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    GRANTING = "granting"
    ACTIVE = "active"
    EXPIRY_REMINDER = "expiry_reminder"
    EXTENDED = "extended"
    EXTEND_FAILED = "extend_failed"
    REVOKING = "revoking"
    REVOKE_RETRY = "revoke_retry"
    REVOKED = "revoked"
    EXPIRED = "expired"
    FAILED = "failed"
    ESCALATED = "escalated"
    # Audit events only, published on their own (no lifecycle step).
    AUDIT = "audit"


class Transition(BaseModel):
    """What one or more lifecycle steps publish: the current view plus the audit events since last time.

    `kind` tells notifiers what happened (submitted, approval, active, expiry_reminder, ...).
    """

    kind: TransitionKind
    status: StatusView
    events: list[AuditEvent] = Field(default_factory=list)


class RefusalWindow(BaseModel):
    """The refused messages of one actor within a minute: the first is recorded, the rest only counted."""

    actor: str
    started_at: datetime
    suppressed: int = 0
    action: str = ""
    reason: str = ""


class CarriedState(BaseModel):
    """Everything a request's workflow knows, handed to its next run by continue-as-new (same workflow id).

    Timers carry over exactly: the approval wait as the time waited so far at `carried_at`, the expiry and
    its reminder as absolute times.
    """

    status: AccessStatus
    status_reason: str = ""
    decision: PolicyDecision
    approvals: list[Approval] = Field(default_factory=list)
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    extensions_used: int = 0
    extension_offered: bool = False
    reminded_for: datetime | None = None
    granted: list[GrantItem] = Field(default_factory=list)
    seq: int
    events: list[AuditEvent] = Field(default_factory=list)
    outbox: list[Transition] = Field(default_factory=list)
    approval_waited_seconds: float = 0
    carried_at: datetime
    refusals: list[RefusalWindow] = Field(default_factory=list)
    run: int = 1
    escalated: list[str] = Field(default_factory=list)
    # Nonces of the decision proofs this request has accepted (a replayed proof is refused), and whether
    # an unverified submission to an automatic flow waits for a human approval.
    nonces: list[str] = Field(default_factory=list)
    human_required: bool = False
    submitted_via: str = ""
    submission_verified: bool | None = None
    refused: list[RefusedDecision] = Field(default_factory=list)


class WorkflowInput(BaseModel):
    request_id: str
    spec: RequestSpec
    submitted_at: datetime
    # Set only when a run continues as new; inputs without it (every first run, v0.1.0's) start afresh.
    carried: CarriedState | None = None
    # The requester's front door's proof of the submission (action "request"); none when started otherwise.
    proof: Proof | None = None


# Signal / update payloads. Signals accept raw JSON and are validated inside the workflow so that a
# malformed payload is refused and audited instead of being dropped by the SDK.


class ApprovePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: str = Field(min_length=3, max_length=320)
    comment: str = Field(default="", max_length=3000)
    break_glass: bool = False
    reason: str = Field(default="", max_length=3000)
    proof: Proof | None = None


class RejectPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approver: str = Field(min_length=3, max_length=320)
    reason: str = Field(default="", max_length=3000)
    proof: Proof | None = None


class ExtendPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=3, max_length=320)
    proof: Proof | None = None


class RevokePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actor: str = Field(min_length=3, max_length=320)
    reason: str = Field(default="", max_length=3000)
    proof: Proof | None = None
