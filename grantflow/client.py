"""The client facade every front door (CLI, Slack, MCP) uses: submit, decide, extend, revoke, look.

It validates input against the policy before anything starts (so people get an answer at once), starts
and talks to workflows through Temporal updates (so refusals come back immediately), and reads listings
and the audit trail from the store. Front doors never talk to Temporal or integrations directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import string
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from grantflow.domain import policy
from grantflow.domain.config import ConfigSource, GrantflowConfig
from grantflow.domain.durations import DurationError, format_duration, parse_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.models import (
    AccessStatus,
    AuditEvent,
    GrantItem,
    RequestSpec,
    StatusView,
    WorkflowInput,
)
from grantflow.domain.search_attributes import initial_search_attributes
from grantflow.settings import Settings
from grantflow.storage.store import Store
from grantflow.storage.vault import SecretVault
from workflows.access_request import AccessRequestWorkflow, summary_line

# An update of the workflow, by reference: `AccessRequestWorkflow.approve_update` etc.
Update = UpdateMethodMultiParam[[AccessRequestWorkflow, Any], Coroutine[Any, Any, StatusView]]

_ID_ALPHABET = string.ascii_lowercase + string.digits
REQUEST_ID_LENGTH = 10


class GrantflowError(Exception):
    """An error meant for the person at the front door (one line, no stack trace)."""


class BadRequest(GrantflowError):
    pass


class NotFound(GrantflowError):
    pass


class Refused(GrantflowError):
    pass


def new_request_id(idempotency_key: str | None = None, requester: str = "") -> str:
    """Short, unique, URL- and role-name-safe. Derived from the idempotency key when there is one, so a
    duplicate submission lands on the same workflow id."""
    if idempotency_key:
        digest = hashlib.sha256(f"{requester}\0{idempotency_key}".encode()).digest()
        return "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:REQUEST_ID_LENGTH])
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(REQUEST_ID_LENGTH))


def check_person(email: str | None) -> str:
    """A person's email as typed at a front door, checked by the one email rule (BadRequest when it fails)."""
    try:
        return check_email(email or "")
    except BadEmail as exc:
        raise BadRequest(str(exc)) from None


def workflow_id_for(request_id: str) -> str:
    return f"access-request-{request_id}"


def request_id_from(ref: str) -> str:
    """Accept a request id or a workflow id."""
    ref = ref.strip()
    return ref.removeprefix("access-request-")


@dataclass(frozen=True)
class Submitted:
    request_id: str
    workflow_id: str
    existing: bool = False

    def as_json(self) -> dict[str, str]:
        return {"request_id": self.request_id, "workflow_id": self.workflow_id}


def _client_event(
    request_id: str,
    actor: str,
    action: str,
    reason: str,
    outcome: str = "refused",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent(
        key=f"client:{secrets.token_hex(12)}",
        request_id=request_id,
        at=datetime.now(UTC),
        actor=actor or "unknown",
        action=action,
        outcome=outcome,  # type: ignore[arg-type]
        reason=reason,
        detail=detail or {},
    )


class GrantflowClient:
    def __init__(self, temporal: Client, config: ConfigSource, store: Store, task_queue: str,
                 vault: SecretVault | None = None):
        self.temporal = temporal
        self.config_source = config
        self.store = store
        self.task_queue = task_queue
        self.vault = vault

    @classmethod
    async def connect(cls, settings: Settings, config: ConfigSource | None = None) -> GrantflowClient:
        from grantflow.temporal import connect

        store = Store(settings.database_url)
        await asyncio.to_thread(store.create_all)
        temporal = await connect(settings)
        vault = SecretVault(store, settings.encryption_keys) if settings.encryption_keys else None
        return cls(temporal, config or ConfigSource(settings.config_file), store, settings.task_queue, vault)

    @property
    def config(self) -> GrantflowConfig:
        return self.config_source.get()

    # --- building a request ------------------------------------------------------------------------

    def build_spec(
        self,
        *,
        requester: str,
        grantee: str | None = None,
        integration: str | None = None,
        resource_type: str | None = None,
        resources: Sequence[str] = (),
        permission: str | None = None,
        bundle: str | None = None,
        duration: str | int | None = None,
        justification: str = "",
        source: str = "cli",
    ) -> RequestSpec:
        """Turn front-door fields into a spec the policy allows, or raise BadRequest/Refused with why."""
        cfg = self.config
        requester = check_person(requester)
        grantee = check_person(grantee) if grantee is not None else requester
        if len(justification) > 3000:
            raise BadRequest("the justification is longer than 3000 characters")
        items: list[GrantItem]
        if bundle:
            try:
                items = policy.bundle_items(cfg, bundle, resources)
            except policy.PolicyError as exc:
                raise BadRequest(str(exc)) from None
        else:
            missing = [
                n
                for n, v in (
                    ("--integration", integration),
                    ("--resource-type", resource_type),
                    ("--permission", permission),
                )
                if not v
            ]
            if missing or not resources:
                missing += [] if resources else ["--resource"]
                raise BadRequest(f"missing {', '.join(missing)} (or use --bundle)")
            assert integration and resource_type and permission
            items = [
                GrantItem(integration=integration, resource_type=resource_type, resource=r, permission=permission)
                for r in dict.fromkeys(resources)
            ]
            for item in items:
                problem = policy.item_problem(cfg, item)
                if problem:
                    raise BadRequest(problem)
        seconds = self._duration(cfg, requester, grantee, items, bundle, duration)
        spec = RequestSpec(
            requester=requester,
            grantee=grantee,
            items=items,
            bundle=bundle,
            duration_seconds=seconds,
            justification=justification.strip(),
            source=source,
        )
        decision = policy.decide(cfg, spec)
        if not decision.allowed:
            raise Refused(decision.reason)
        return spec

    @staticmethod
    def _duration(
        cfg: GrantflowConfig,
        requester: str,
        grantee: str,
        items: list[GrantItem],
        bundle: str | None,
        duration: str | int | None,
    ) -> int:
        if duration not in (None, ""):
            try:
                seconds = parse_duration(duration)  # type: ignore[arg-type]
            except DurationError as exc:
                raise BadRequest(f"--duration: {exc}") from None
            if seconds <= 0:
                raise BadRequest("--duration must be positive")
            return seconds
        flows = [
            f
            for f in policy.flows_for(cfg, requester)
            if all(policy.flow_covers(cfg, f, i, bundle) for i in items)
            and policy.grantee_allowed(cfg, f, requester, grantee)
        ]
        return flows[0].default_duration if flows else 3600

    # --- lifecycle -----------------------------------------------------------------------------------

    async def submit(self, spec: RequestSpec, idempotency_key: str | None = None) -> Submitted:
        request_id = new_request_id(idempotency_key, spec.requester)
        workflow_id = workflow_id_for(request_id)
        now = datetime.now(UTC)
        inp = WorkflowInput(request_id=request_id, spec=spec, submitted_at=now)
        preview = StatusView(
            request_id=request_id,
            workflow_id=workflow_id,
            status=AccessStatus.PENDING_APPROVAL,
            requester=spec.requester,
            grantee=spec.grantee,
            grants=spec.items,
            duration_seconds=spec.duration_seconds,
            submitted_at=now,
        )
        if idempotency_key:
            try:
                await self.temporal.get_workflow_handle(workflow_id).describe()
                return Submitted(request_id, workflow_id, existing=True)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        try:
            await self.temporal.start_workflow(
                AccessRequestWorkflow.run,
                inp,
                id=workflow_id,
                task_queue=self.task_queue,
                search_attributes=initial_search_attributes(preview),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=self._summary(spec, summary_line(preview)),
                static_details=self._details_markdown(spec),
            )
        except WorkflowAlreadyStartedError:
            return Submitted(request_id, workflow_id, existing=True)
        return Submitted(request_id, workflow_id)

    @staticmethod
    def _summary(spec: RequestSpec, line: str) -> str:
        """The Web UI's one-line title: grantee → what, for how long (and who asked, when someone else)."""
        text = f"{line.split(' · ')[0]} for {format_duration(spec.duration_seconds)}"
        return text + (f", asked by {spec.requester}" if spec.requester != spec.grantee else "")

    @staticmethod
    def _details_markdown(spec: RequestSpec) -> str:
        lines = [
            f"**Requester:** {spec.requester}",
            f"**Grantee:** {spec.grantee}",
            f"**Duration:** {format_duration(spec.duration_seconds)}",
            f"**Justification:** {spec.justification or '—'}",
            f"**Source:** {spec.source}" + (f" · bundle `{spec.bundle}`" if spec.bundle else ""),
            "**Items:**",
        ]
        lines += [f"- {i.label()}" for i in spec.items]
        return "\n".join(lines)

    def _handle(self, request_id: str) -> WorkflowHandle[Any, Any]:
        return self.temporal.get_workflow_handle(workflow_id_for(request_id_from(request_id)))

    async def _update(
        self, request_id: str, update: Update, name: str, payload: dict[str, Any], actor: str
    ) -> StatusView:
        request_id = request_id_from(request_id)
        handle = self._handle(request_id)
        try:
            # cast: the SDK types an update declared with `name=` as returning its coroutine.
            return cast(StatusView, await handle.execute_update(update, payload))
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            reason = str(cause.message if isinstance(cause, ApplicationError) else cause or exc)
            if not (isinstance(cause, ApplicationError) and cause.type == "Refused"):
                # Rejected by the validator: nothing reached history, so the refusal is recorded here.
                await asyncio.to_thread(
                    self.store.append_audit, [_client_event(request_id, actor, name, reason, detail=payload)]
                )
            raise Refused(reason) from None
        except RPCError as exc:
            await self._explain_rpc_error(request_id, name, exc, actor)
            raise

    async def _explain_rpc_error(self, request_id: str, action: str, exc: RPCError, actor: str) -> None:
        if exc.status == RPCStatusCode.NOT_FOUND or "already completed" in str(exc).lower():
            view = await asyncio.to_thread(self.store.get_request, request_id)
            if view is None:
                try:
                    view = await self._handle(request_id).query(AccessRequestWorkflow.status)
                except RPCError:
                    raise NotFound(f"unknown request id {request_id}") from None
            reason = f"request {request_id} is already {view.status.value}"
            await asyncio.to_thread(self.store.append_audit, [_client_event(request_id, actor, action, reason)])
            raise Refused(reason) from None

    async def approve(
        self, request_id: str, approver: str, comment: str = "", *, break_glass: bool = False, reason: str = ""
    ) -> StatusView:
        approver = check_person(approver)
        payload: dict[str, Any] = {"approver": approver, "comment": comment}
        if break_glass:
            payload.update(break_glass=True, reason=reason)
        return await self._update(request_id, AccessRequestWorkflow.approve_update, "approve", payload, approver)

    async def reject(self, request_id: str, approver: str, reason: str = "") -> StatusView:
        approver = check_person(approver)
        payload = {"approver": approver, "reason": reason}
        return await self._update(request_id, AccessRequestWorkflow.reject_update, "reject", payload, approver)

    async def extend(self, request_id: str, actor: str) -> StatusView:
        actor = check_person(actor)
        return await self._update(request_id, AccessRequestWorkflow.extend_update, "extend", {"actor": actor}, actor)

    async def revoke(self, request_id: str, actor: str, reason: str = "") -> StatusView:
        actor = check_person(actor)
        payload = {"actor": actor, "reason": reason}
        return await self._update(request_id, AccessRequestWorkflow.revoke_update, "revoke", payload, actor)

    async def status(self, request_id: str) -> StatusView:
        request_id = request_id_from(request_id)
        try:
            return await self._handle(request_id).query(AccessRequestWorkflow.status)
        except RPCError as exc:
            view = await asyncio.to_thread(self.store.get_request, request_id)
            if view is not None:
                return view
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise NotFound(f"unknown request id {request_id}") from None
            raise

    async def details(self, request_id: str, actor: str) -> dict[str, dict[str, Any]]:
        """Access details (with secrets) of an ACTIVE request: item label → details. Grantee only."""
        who = check_person(actor)
        view = await self.status(request_id)
        if who != view.grantee:
            await asyncio.to_thread(self.store.append_audit, [_client_event(
                view.request_id, who, "details", "access details are shown only to the grantee")])
            raise Refused(f"only the grantee ({view.grantee}) can see the access details of {view.request_id}")
        if view.status != AccessStatus.ACTIVE:
            raise Refused(f"request {view.request_id} is {view.status.value}: there are no access details")
        held: dict[str, dict[str, Any]] = {}
        if self.vault is not None:
            held = await asyncio.to_thread(self.vault.get, view.request_id)
        out: dict[str, dict[str, Any]] = {}
        for item in view.grants:
            key = f"{item.integration}/{item.resource_type}/{item.resource}/{item.permission}"
            info: dict[str, Any] = dict(held.get(key) or {"note": "no credentials needed: access is on your account"})
            if "expires_at" in info and view.expires_at:
                info["expires_at"] = view.expires_at.isoformat()
            out[item.label()] = info
        await asyncio.to_thread(self.store.append_audit, [_client_event(
            view.request_id, who, "details", "", outcome="ok")])
        return out

    async def wait_for(
        self, request_id: str, statuses: set[AccessStatus], timeout: float = 30.0, interval: float = 0.2
    ) -> StatusView:
        """Poll the status query until one of `statuses` (for CLIs and tests that want to see an outcome)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            view = await self.status(request_id)
            if view.status in statuses or asyncio.get_running_loop().time() > deadline:
                return view
            await asyncio.sleep(interval)

    # --- listings --------------------------------------------------------------------------------------

    async def list_requests(
        self,
        *,
        person: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[StatusView]:
        if isinstance(status, str):
            status = status.upper()
            if status not in AccessStatus.__members__:
                raise BadRequest(f'unknown status "{status}" (one of {", ".join(AccessStatus.__members__)})')
        who = check_person(person) if person else None
        return await asyncio.to_thread(self.store.list_requests, person=who, status=status, since=since, limit=limit)

    async def recent(self, person: str, days: int = 7) -> list[StatusView]:
        """Active requests plus everything else from the last `days` days (Slack's "my requests")."""
        since = datetime.now(UTC) - timedelta(days=days)
        rows = await self.list_requests(person=person, since=since, limit=100)
        active = await self.list_requests(person=person, status=[AccessStatus.ACTIVE.value], limit=100)
        seen = {r.request_id for r in rows}
        return [*rows, *(a for a in active if a.request_id not in seen)]

    async def audit(self, *, request_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]:
        rid = request_id_from(request_id) if request_id else None
        return await asyncio.to_thread(self.store.audit, request_id=rid, since=since)

    async def record_refusal(
        self, actor: str, action: str, reason: str, request_id: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        """Front doors record requests the policy refused before any workflow existed."""
        await asyncio.to_thread(
            self.store.append_audit, [_client_event(request_id, actor, action, reason, detail=detail)]
        )
