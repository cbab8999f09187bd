"""Reconciliation as pure data and one pure function, shared by the workflow, its activities and the CLI.

The activities gather facts (what each integration holds under grantflow's naming, what the request index
and Temporal say about the requests those names point to); `classify` turns the facts into findings. It
runs inside `ReconcileWorkflow`, so it must stay deterministic and free of I/O.

Provenance rule: a held grant is grantflow's only when its name is exactly the one grantflow derives for a
request the index knows, on an integration that request used. Anything else is `unmanaged` and is never
touched. Liveness comes from Temporal: a grant whose request workflow is no longer running has nobody left
to revoke it (terminated workflow, lost revoke, restored database), so it is an orphan. A grant whose
workflow runs but whose access ended more than OVERDUE_AFTER ago is `overdue`: that workflow is not
revoking it (a workflow task that keeps failing, e.g. a history the SDK cannot replay), so reconciliation
does, and says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from grantflow.domain.models import AccessStatus

RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"
SCHEDULE_ID = "grantflow-reconcile"
RECONCILE_ACTOR = "grantflow-reconcile"
# Index statuses under which a request is supposed to hold (or be acquiring/removing) its grants.
HOLDING_STATUSES = frozenset({AccessStatus.ACTIVE.value, AccessStatus.GRANTING.value, AccessStatus.REVOKING.value})
# How long after a request's access ended a grant its (running) workflow still holds is taken away by
# reconciliation: well past a revoke's normal seconds, and past a publish delayed by a busy index.
OVERDUE_AFTER = timedelta(minutes=15)
# Index statuses under which a running workflow should have revoked by its expiry.
OVERDUE_STATUSES = frozenset({AccessStatus.ACTIVE.value, AccessStatus.REVOKING.value})

FindingKind = Literal["orphan", "overdue", "unmanaged", "missing", "stale_index"]
# The kinds whose grant reconciliation removes (unless dry run).
REMOVED_KINDS = frozenset({"orphan", "overdue"})
FindingAction = Literal["revoked", "would_revoke", "revoke_failed", "skipped", "left_alone", "reported"]


class ReconcileInput(BaseModel):
    dry_run: bool = False


class HeldGrant(BaseModel):
    """One thing an integration says exists under grantflow's naming (a `gf_` role, ...)."""

    integration: str
    handle: str
    request_id: str | None = None
    # True when where it lives makes it grantflow's (an assignment of a managed AWS permission set), so
    # that with no request holding it (`request_id` None) it is an orphan rather than unmanaged; the
    # inventory has already matched it to its request, so its name is not compared.
    managed: bool = False


class RequestFacts(BaseModel):
    """What the index and Temporal say about one request that a held grant (or the index) points to."""

    request_id: str
    grantee: str
    store_status: str
    workflow_state: str
    workflow_running: bool
    # integration id -> the handle grantflow would have created there for this request
    handles: dict[str, str] = Field(default_factory=dict)
    # When the index says its access ends (None: not granted yet, or an inventory from before this field).
    expires_at: datetime | None = None

    def overdue_since(self, now: datetime) -> timedelta | None:
        """How long ago the access ended, when a running workflow still should have revoked it by now."""
        if not self.workflow_running or self.store_status not in OVERDUE_STATUSES or self.expires_at is None:
            return None
        late = now - self.expires_at
        return late if late > OVERDUE_AFTER else None


class Inventory(BaseModel):
    checked_at: datetime
    held: list[HeldGrant] = Field(default_factory=list)
    requests: list[RequestFacts] = Field(default_factory=list)
    listed: list[str] = Field(default_factory=list)
    not_listable: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)


class Finding(BaseModel):
    kind: FindingKind
    integration: str
    handle: str = ""
    request_id: str = ""
    action: FindingAction
    detail: str

    def line(self) -> str:
        where = f"{self.integration}:{self.handle}" if self.handle else self.integration
        rid = f" [{self.request_id}]" if self.request_id else ""
        return f"{self.kind:<11} {self.action:<13} {where}{rid}: {self.detail}"


class RemoveOp(BaseModel):
    integration: str
    handle: str
    request_id: str
    # An `overdue` grant: its workflow runs; the removal re-checks that the access is still overdue instead.
    overdue: bool = False


class ReconcileReport(BaseModel):
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool
    findings: list[Finding] = Field(default_factory=list)
    in_step: int = 0
    listed: list[str] = Field(default_factory=list)
    not_listable: list[str] = Field(default_factory=list)
    errors: dict[str, str] = Field(default_factory=dict)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        parts = [f"{n} {k}" for k, n in sorted(counts.items())] or ["no drift"]
        mode = " (dry run)" if self.dry_run else ""
        text = f"reconciliation{mode}: " + ", ".join(parts) + f"; {self.in_step} grants in step"
        if self.errors:
            text += "; could not check " + ", ".join(sorted(self.errors))
        return text


def classify(inv: Inventory, dry_run: bool) -> tuple[list[Finding], int]:
    """Findings for one inventory, plus how many held grants are in step with a live request."""
    facts = {r.request_id: r for r in inv.requests}
    findings: list[Finding] = []
    in_step = 0
    held_names = {(h.integration, h.handle) for h in inv.held}
    for h in sorted(inv.held, key=lambda x: (x.integration, x.handle)):
        f = facts.get(h.request_id or "")
        if h.managed and f is None:
            findings.append(
                Finding(
                    kind="orphan",
                    integration=h.integration,
                    handle=h.handle,
                    action="would_revoke" if dry_run else "revoked",
                    detail="grantflow manages where it lives, and no request in the index holds it",
                )
            )
            continue
        if f is None or (not h.managed and f.handles.get(h.integration) != h.handle):
            findings.append(
                Finding(
                    kind="unmanaged",
                    integration=h.integration,
                    handle=h.handle,
                    action="left_alone",
                    detail="not created by grantflow (no request in the index has this name); never touched",
                )
            )
            continue
        if (late := f.overdue_since(inv.checked_at)) is not None:
            assert f.expires_at is not None
            findings.append(
                Finding(
                    kind="overdue",
                    integration=h.integration,
                    handle=h.handle,
                    request_id=f.request_id,
                    action="would_revoke" if dry_run else "revoked",
                    detail=f"access ended {f.expires_at:%Y-%m-%d %H:%M} UTC ({int(late.total_seconds()) // 60} min "
                    f"ago) and its workflow, still running, has not revoked it (index: {f.store_status})",
                )
            )
            continue
        if f.workflow_running:
            in_step += 1
            continue
        findings.append(
            Finding(
                kind="orphan",
                integration=h.integration,
                handle=h.handle,
                request_id=f.request_id,
                action="would_revoke" if dry_run else "revoked",
                detail=f"request is {f.store_status} in the index and its workflow is {f.workflow_state}",
            )
        )
    for f in sorted(inv.requests, key=lambda r: r.request_id):
        if f.store_status not in HOLDING_STATUSES:
            continue
        if not f.workflow_running:
            if not any((i, hd) in held_names for i, hd in f.handles.items()):
                findings.append(
                    Finding(
                        kind="stale_index",
                        integration=",".join(sorted(f.handles)) or "-",
                        request_id=f.request_id,
                        action="reported",
                        detail=f"the index says {f.store_status} but the workflow is {f.workflow_state}",
                    )
                )
            continue
        if f.store_status != AccessStatus.ACTIVE.value:
            continue
        for integration, handle in sorted(f.handles.items()):
            if integration in inv.listed and (integration, handle) not in held_names:
                findings.append(
                    Finding(
                        kind="missing",
                        integration=integration,
                        handle=handle,
                        request_id=f.request_id,
                        action="reported",
                        detail="the request is ACTIVE but the grant is gone (removed outside grantflow?)",
                    )
                )
    return findings, in_step
