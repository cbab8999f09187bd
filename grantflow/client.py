"""The client facade every front door (CLI, Slack, MCP) uses: submit, decide, extend, revoke, look.

It validates input against the policy before anything starts (so people get an answer at once), starts
and talks to workflows through Temporal updates (so refusals come back immediately), and reads listings
and the audit trail from the store. Front doors never talk to Temporal or integrations directly.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from grantflow import requests
from grantflow.discovery import ResourceCatalog
from grantflow.domain.config import ConfigSource, GrantflowConfig
from grantflow.domain.discovery import DiscoveryAnswer, DiscoveryQuery, resource_problem
from grantflow.domain.durations import format_duration
from grantflow.domain.ids import REQUEST_ID_LENGTH, new_request_id, request_id_from, workflow_id_for
from grantflow.domain.models import (
    AccessStatus,
    AuditEvent,
    RequestSpec,
    StatusView,
    WorkflowInput,
)
from grantflow.domain.proofs import Proof, Signer, Via, spec_digest
from grantflow.domain.search_attributes import initial_search_attributes
from grantflow.outcomes import (
    BadRequest,
    GrantflowError,
    NotFound,
    Refused,
    Submitted,
    _client_event,
    check_person,
    final_view,
)
from grantflow.settings import Settings
from grantflow.status_read import read_status
from grantflow.storage.store import Store
from grantflow.storage.vault import SecretVault
from workflows.access_request import AccessRequestWorkflow, summary_line
from workflows.discovery import DiscoveryWorkflow

# An update of the workflow, by reference: `AccessRequestWorkflow.approve_update` etc.
Update = UpdateMethodMultiParam[[AccessRequestWorkflow, Any], Coroutine[Any, Any, StatusView]]

__all__ = [
    "REQUEST_ID_LENGTH",
    "BadRequest",
    "GrantflowClient",
    "GrantflowError",
    "NotFound",
    "Refused",
    "Submitted",
    "check_person",
    "final_view",
    "new_request_id",
    "request_id_from",
    "workflow_id_for",
]


class GrantflowClient:
    def __init__(
        self,
        temporal: Client,
        config: ConfigSource,
        store: Store,
        task_queue: str,
        vault: SecretVault | None = None,
        signer: Signer | None = None,
    ):
        """`signer`: the front door's decision key (grantflow/domain/proofs.py); without one, decisions and
        submissions go unproven (the workflow marks them unverified, or refuses them under `enforce`)."""
        self.temporal = temporal
        self.config_source = config
        self.store = store
        self.task_queue = task_queue
        self.vault = vault
        self.catalog = ResourceCatalog(self._discover)
        self.signer = signer

    @classmethod
    async def connect(cls, settings: Settings, config: ConfigSource | None = None, via: Via = "cli") -> GrantflowClient:
        """`via`: the front door this process is (slack, mcp, cli), named in every proof it makes."""
        from grantflow.temporal import connect

        store = Store(settings.database_url)
        await asyncio.to_thread(store.create_all)
        temporal = await connect(settings)
        vault = SecretVault(store, settings.encryption_keys) if settings.encryption_keys else None
        keys = settings.decision_key_map()
        signer = Signer(keys, via) if keys else None
        return cls(temporal, config or ConfigSource(settings.config_file), store, settings.task_queue, vault, signer)

    def _proof(
        self, workflow_id: str, action: str, actor: str, break_glass: bool = False, reason: str = ""
    ) -> Proof | None:
        if self.signer is None:
            return None
        return self.signer.sign(workflow_id, action, actor, datetime.now(UTC), break_glass=break_glass, reason=reason)

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
        start_at: str | datetime | None = None,
    ) -> RequestSpec:
        """Turn front-door fields into a spec the policy allows, or raise BadRequest/Refused with why (and
        the field it is about). Pure: nothing is recorded; `check_request` also audits refusals."""
        try:
            return requests.build_spec(
                self.config,
                requester=requester,
                grantee=grantee,
                integration=integration,
                resource_type=resource_type,
                resources=resources,
                permission=permission,
                bundle=bundle,
                duration=duration,
                justification=justification,
                source=source,
                start_at=start_at,
            )
        except requests.PolicyRefusal as exc:
            raise Refused(str(exc), exc.field) from None
        except requests.SpecError as exc:
            raise BadRequest(str(exc), exc.field) from None

    async def check_request(self, *, requester: str, source: str = "cli", **fields: Any) -> RequestSpec:
        """`build_spec`, and a policy refusal is recorded in the audit trail (actor: the requester, detail:
        the front door) before Refused is raised. Every front door submits through this or `request`."""
        try:
            spec = self.build_spec(requester=requester, source=source, **fields)
        except Refused as exc:
            await self.record_refusal(requester, "request", str(exc), detail={"source": source})
            raise
        await self.check_resources(spec)
        return spec

    async def check_resources(self, spec: RequestSpec) -> None:
        """Refuse (BadRequest on `resources`) an item that names nothing its integration discovered, with the
        closest names. Lists come from the worker (`DiscoveryWorkflow`), cached for a short time."""
        cfg = self.config
        for item in spec.items:
            problem = resource_problem(cfg, item, await self.catalog.names(cfg, item))
            if problem:
                raise BadRequest(problem, "resources")

    async def _discover(self, query: DiscoveryQuery) -> DiscoveryAnswer:
        return await self.temporal.execute_workflow(
            DiscoveryWorkflow.run,
            query,
            id=f"grantflow-discovery-{query.integration}-{query.resource_type}-{secrets.token_hex(4)}",
            task_queue=self.task_queue,
            execution_timeout=timedelta(seconds=15),
            static_summary=f"discovery: {query.integration}/{query.resource_type}",
        )

    async def request(
        self, *, requester: str, source: str = "cli", idempotency_key: str | None = None, **fields: Any
    ) -> Submitted:
        """Check the fields (auditing a refusal) and submit the request."""
        spec = await self.check_request(requester=requester, source=source, **fields)
        return await self.submit(spec, idempotency_key)

    # --- lifecycle -----------------------------------------------------------------------------------

    async def submit(self, spec: RequestSpec, idempotency_key: str | None = None) -> Submitted:
        request_id = new_request_id(idempotency_key, spec.requester)
        notes = tuple(self.catalog.unchecked(self.config, spec.items))
        workflow_id = workflow_id_for(request_id)
        now = datetime.now(UTC)
        digest = spec_digest(spec.model_dump(mode="json"))
        proof = self._proof(workflow_id, "request", spec.requester, reason=digest)
        inp = WorkflowInput(request_id=request_id, spec=spec, submitted_at=now, proof=proof)
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
                static_summary=self._summary(spec, summary_line(preview))
                + (" · resources not checked" if notes else ""),
                static_details=self._details_markdown(spec, notes),
            )
        except WorkflowAlreadyStartedError:
            return Submitted(request_id, workflow_id, existing=True)
        return Submitted(request_id, workflow_id, notes=notes)

    @staticmethod
    def _summary(spec: RequestSpec, line: str) -> str:
        """The Web UI's one-line title: grantee → what, for how long (and who asked, when someone else)."""
        text = f"{line.split(' · ')[0]} for {format_duration(spec.duration_seconds)}"
        return text + (f", asked by {spec.requester}" if spec.requester != spec.grantee else "")

    @staticmethod
    def _details_markdown(spec: RequestSpec, notes: Sequence[str] = ()) -> str:
        lines = [
            f"**Requester:** {spec.requester}",
            f"**Grantee:** {spec.grantee}",
            f"**Duration:** {format_duration(spec.duration_seconds)}",
            f"**Justification:** {spec.justification or '—'}",
            f"**Source:** {spec.source}" + (f" · bundle `{spec.bundle}`" if spec.bundle else ""),
            "**Items:**",
        ]
        lines += [f"- {i.label()}" for i in spec.items]
        lines += [f"**Not checked:** {n}" for n in notes]
        return "\n".join(lines)

    def _handle(self, request_id: str) -> WorkflowHandle[Any, Any]:
        return self.temporal.get_workflow_handle(workflow_id_for(request_id_from(request_id)))

    async def _update(
        self, request_id: str, update: Update, name: str, payload: dict[str, Any], actor: str
    ) -> StatusView:
        request_id = request_id_from(request_id)
        handle = self._handle(request_id)
        glass, reason = bool(payload.get("break_glass")), str(payload.get("reason", ""))
        proof = self._proof(handle.id, name, actor, glass, reason)
        sent = {**payload, "proof": proof.model_dump()} if proof is not None else payload
        try:
            # cast: the SDK types an update declared with `name=` as returning its coroutine.
            return cast(StatusView, await handle.execute_update(update, sent))
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
        """Where the request stands, read as grantflow/status_read.py says (a finished run's result, the
        request index while a task waits on a dead worker, else the `status` query); the index's row when
        Temporal cannot answer."""
        request_id = request_id_from(request_id)

        def indexed() -> Awaitable[StatusView | None]:
            return asyncio.to_thread(self.store.get_request, request_id)

        try:
            return await read_status(self._handle(request_id), indexed)
        except RPCError as exc:
            view = await indexed()
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
            await asyncio.to_thread(
                self.store.append_audit,
                [_client_event(view.request_id, who, "details", "access details are shown only to the grantee")],
            )
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
        await asyncio.to_thread(
            self.store.append_audit, [_client_event(view.request_id, who, "details", "", outcome="ok")]
        )
        return out

    async def result(self, request_id: str) -> StatusView:
        """Wait until the request has ended (any of the final statuses, FAILED included) and return its view."""
        return await final_view(self._handle(request_id))

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

    async def decided(self, request_id: str, timeout: float = 10.0) -> StatusView:
        """A fresh request once its workflow has decided the policy (who approves, by when): it is
        PENDING_APPROVAL from its start and knows its approvers one activity later (or as it is at `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            view = await self.status(request_id)
            if view.flow_id or view.status != AccessStatus.PENDING_APPROVAL:
                return view
            if asyncio.get_running_loop().time() > deadline:
                return view
            await asyncio.sleep(0.05)

    async def settle(self, view: StatusView, leave: set[AccessStatus], timeout: float = 15.0) -> StatusView:
        """After a decision: the request once its status left `leave` (the states the decision moves it out of,
        e.g. PENDING_APPROVAL and GRANTING after the last approval), or as it is when `timeout` runs out."""
        if view.status not in leave:
            return view
        return await self.wait_for(view.request_id, set(AccessStatus) - leave, timeout=timeout)

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
