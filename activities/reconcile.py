"""The side effects of reconciliation: ask integrations what grantflow holds, look up the requests those
names point to (index and Temporal), remove orphans and overdue grants, and report.

Only integrations that can enumerate their own grants take part (`ListsOwnAccounts`: `postgresql` and
`mysql`, through their `gf_` roles and accounts; and `aws_identity_center` with a `managed_prefix`, through
the assignments of its managed permission sets); the others are listed as not checkable in the report rather
than silently skipped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

import structlog
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.integrations import registry
from activities.integrations.aws_identity_center import AwsIdentityCenterDriver, held_by_requests
from activities.integrations.base import IntegrationError, ListsOwnAccounts
from activities.notifiers.base import Notifier
from grantflow.domain.config import ConfigSource
from grantflow.domain.ids import request_id_in_name, workflow_id_for
from grantflow.domain.models import AccessStatus, AuditEvent, StatusView
from grantflow.domain.reconcile import (
    HOLDING_STATUSES,
    RECONCILE_ACTOR,
    HeldGrant,
    Inventory,
    ReconcileReport,
    RemoveOp,
    RequestFacts,
)
from grantflow.storage.store import Store, utcnow

log = structlog.get_logger("grantflow.domain.reconcile")

# The requests an AWS assignment may belong to (it carries no request id, unlike a `gf_` role name).
AWS_MATCHED_STATUSES = HOLDING_STATUSES | {AccessStatus.PENDING_APPROVAL.value}


class Announcer(Protocol):
    """A notifier that can also post a free-text message to an admin channel (None: its default place)."""

    async def announce(self, channel: str | None, text: str) -> None: ...


def _outcome(action: str) -> str:
    return {"revoked": "ok", "revoke_failed": "failed"}.get(action, "info")


class ReconcileActivities:
    def __init__(self, config: ConfigSource, store: Store, state_dir: Path, notifier: Notifier):
        self.config = config
        self.store = store
        self.state_dir = state_dir
        self.notifier = notifier

    def _driver(self, integration_id: str) -> ListsOwnAccounts | None:
        try:
            driver = registry.build(self.config.get(), integration_id, self.state_dir)
        except IntegrationError:
            return None
        return driver if isinstance(driver, ListsOwnAccounts) else None

    @staticmethod
    async def _workflow_state(request_id: str) -> tuple[str, bool]:
        handle = activity.client().get_workflow_handle(workflow_id_for(request_id))
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return "NOT_FOUND", False
            raise
        status = desc.status or WorkflowExecutionStatus.RUNNING
        return status.name, status == WorkflowExecutionStatus.RUNNING

    def _aws(self, integration_id: str) -> AwsIdentityCenterDriver | None:
        try:
            driver = registry.build(self.config.get(), integration_id, self.state_dir)
        except IntegrationError:
            return None
        ok = isinstance(driver, AwsIdentityCenterDriver) and driver.config.managed_prefix
        return driver if ok else None  # type: ignore[return-value]

    @activity.defn(name="reconcile_inventory")
    async def reconcile_inventory(self) -> Inventory:
        cfg = self.config.get()
        inv = Inventory(checked_at=utcnow())
        listable: dict[str, ListsOwnAccounts] = {}
        aws: dict[str, AwsIdentityCenterDriver] = {}
        for integ in cfg.integrations:
            driver = self._driver(integ.id)
            if driver is None and (aws_driver := self._aws(integ.id)) is not None:
                aws[integ.id] = aws_driver
                continue
            if driver is None:
                inv.not_listable.append(integ.id)
                continue
            listable[integ.id] = driver
            try:
                roles = await driver.list_grantflow_roles()
            except IntegrationError as exc:
                inv.errors[integ.id] = str(exc)
                continue
            inv.listed.append(integ.id)
            inv.held += [HeldGrant(integration=integ.id, handle=r, request_id=request_id_in_name(r)) for r in roles]
        aws_handles: dict[tuple[str, str], str] = {}
        if aws:
            # PENDING_APPROVAL too: the index may not say GRANTING yet when the grant has already run.
            holding = await asyncio.to_thread(
                self.store.list_requests, status=sorted(AWS_MATCHED_STATUSES), limit=100_000
            )
            for integ_id, aws_driver in aws.items():
                try:
                    held, aws_handles_of = await held_by_requests(aws_driver, integ_id, holding)
                except IntegrationError as exc:
                    inv.errors[integ_id] = str(exc)
                    continue
                inv.listed.append(integ_id)
                inv.held += held
                aws_handles.update(aws_handles_of)
        views = await asyncio.to_thread(self._views, {h.request_id for h in inv.held if h.request_id})
        for view in views:
            state, running = await self._workflow_state(view.request_id)
            handles = {
                g.integration: aws_handles.get((view.request_id, g.integration), "")
                if g.integration in aws
                else listable[g.integration].account_for(view.grantee, view.request_id)
                if g.integration in listable
                else ""
                for g in view.grants
            }
            inv.requests.append(
                RequestFacts(
                    request_id=view.request_id,
                    grantee=view.grantee,
                    store_status=view.status.value,
                    workflow_state=state,
                    workflow_running=running,
                    handles=handles,
                    expires_at=view.expires_at,
                )
            )
        return inv

    def _views(self, candidates: set[str]) -> list[StatusView]:
        views = {v.request_id: v for v in self.store.list_requests(status=sorted(HOLDING_STATUSES), limit=100_000)}
        for rid in sorted(candidates - set(views)):
            v = self.store.get_request(rid)
            if v is not None:
                views[rid] = v
        return [views[k] for k in sorted(views)]

    @activity.defn(name="reconcile_remove")
    async def reconcile_remove(self, op: RemoveOp) -> str:
        """Drop one orphan or overdue grant; re-checks first, since an operator may have reset the workflow (or
        the request been extended, or revoked after all) meanwhile."""
        state, running = await self._workflow_state(op.request_id)
        if op.overdue:
            view = await asyncio.to_thread(self.store.get_request, op.request_id)
            facts = RequestFacts(
                request_id=op.request_id,
                grantee=view.grantee if view else "",
                store_status=view.status.value if view else "",
                workflow_state=state,
                workflow_running=running,
                expires_at=view.expires_at if view else None,
            )
            if running and facts.overdue_since(utcnow()) is None:
                return f"skipped: no longer overdue (index: {facts.store_status or 'no row'})"
        elif running:
            return f"skipped: the workflow is {state} again"
        driver = self._driver(op.integration)
        aws_driver = self._aws(op.integration) if driver is None else None
        if driver is None and aws_driver is None:
            raise ApplicationError(f"{op.integration} cannot remove grants", non_retryable=True)
        try:
            if aws_driver is not None:
                await aws_driver.remove_assignment(op.handle)
            else:
                assert driver is not None
                await driver.drop_role(op.handle)
        except IntegrationError as exc:
            raise ApplicationError(str(exc), type="IntegrationError", non_retryable=not exc.retryable) from None
        kind = "overdue grant" if op.overdue else "orphan"
        log.warning(f"reconcile removed {kind}", integration=op.integration, role=op.handle, request_id=op.request_id)
        return "revoked"

    @activity.defn(name="reconcile_record")
    async def reconcile_record(self, report: ReconcileReport) -> None:
        """Audit every finding (idempotent keys per run) and tell the admins when there is drift."""
        info = activity.info()
        base = f"reconcile:{info.workflow_id}:{info.workflow_run_id}"
        at = report.finished_at or report.started_at
        events = [
            AuditEvent(
                key=f"{base}:{i}",
                request_id=f.request_id,
                at=at,
                actor=RECONCILE_ACTOR,
                action=f"reconcile_{f.kind}",
                outcome=_outcome(f.action),  # type: ignore[arg-type]
                reason=f.detail,
                detail={
                    "integration": f.integration,
                    "handle": f.handle,
                    "action": f.action,
                    "dry_run": report.dry_run,
                },
            )
            for i, f in enumerate(report.findings)
        ]
        events.append(
            AuditEvent(
                key=f"{base}:summary",
                request_id="",
                at=at,
                actor=RECONCILE_ACTOR,
                action="reconcile",
                outcome="failed" if report.errors else "info",
                reason=report.summary(),
                detail={
                    "dry_run": report.dry_run,
                    "listed": report.listed,
                    "not_listable": report.not_listable,
                    "errors": report.errors,
                    "in_step": report.in_step,
                },
            )
        )
        new = await asyncio.to_thread(self.store.append_audit, events)
        if new == 0 or not (report.findings or report.errors):
            return
        lines = [report.summary(), *(f.line() for f in report.findings)]
        lines += [f"could not check {k}: {v}" for k, v in sorted(report.errors.items())]
        await self._announce(self.config.get().admin_channel, "\n".join(lines))

    async def _announce(self, channel: str | None, text: str) -> None:
        announce: Any = getattr(self.notifier, "announce", None)
        if announce is None:
            log.warning("reconcile drift", channel=channel, message=text)
            return
        await announce(channel, text)
