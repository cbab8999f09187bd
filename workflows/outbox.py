"""The workflow's outbox: audit events and transitions waiting to be published, and the publisher that
sends them in order (request index, audit trail, notifications: `RecordActivities.publish_transitions`).

The publisher drains the outbox in order and batches whatever accumulated, so that a busy workflow pays
one publish for several transitions. A publish is a durable activity that retries forever.

Histories begun between FAST_PUBLISH_PATCH and REMOTE_STEPS_PATCH (workflows/steps.py: why no more) publish
local-first: a local activity with a short timeout, falling back to the durable one, and the workflow holds
the outbox back while a grant or revoke round runs (so that neither waits for a local publish); they replay
that way.

Deterministic, no I/O: it runs inside the workflow, on workflow time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.records import RecordActivities
    from grantflow.domain.models import AuditEvent, CarriedState, StatusView, Transition, TransitionKind
    from grantflow.domain.ops import PublishBatch

if TYPE_CHECKING:
    from workflows.steps import Steps

PUBLISH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
PUBLISH_TIMEOUT = timedelta(seconds=60)
PUBLISH_LOCAL_TIMEOUT = timedelta(seconds=5)
PUBLISH_LOCAL_RETRY = RetryPolicy(maximum_attempts=1)


class Outbox:
    def __init__(
        self,
        request_id: str,
        view: Callable[[], StatusView],
        steps: Steps,
        carried: CarriedState | None = None,
    ) -> None:
        """`view` is the request's current view (for audit events published on their own); `steps` says whether
        a publish may still go local-first (workflows/steps.py); `carried` what the previous run had not
        published yet (workflows/carry.py)."""
        self._request_id = request_id
        self._steps = steps
        self._view = view
        self.seq = carried.seq if carried else 0
        self.events: list[AuditEvent] = list(carried.events) if carried else []
        self.pending: list[Transition] = list(carried.outbox) if carried else []
        self.inflight: list[Transition] | None = None
        # Local-first publishing; False for histories begun before it (set by the run, see FAST_PUBLISH_PATCH).
        self.local_first = False
        self.closing = False
        self._held = False

    def event(
        self, actor: str, action: str, *, outcome: str = "ok", reason: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        """One line for the audit trail, published with the next transition (or on its own)."""
        self.seq += 1
        self.events.append(
            AuditEvent(
                key=f"{self._request_id}:{self.seq}",
                request_id=self._request_id,
                at=workflow.now(),
                actor=actor,
                action=action,
                outcome=outcome,  # type: ignore[arg-type]
                reason=reason,
                detail=detail or {},
            )
        )

    def transition(self, kind: TransitionKind, view: StatusView) -> None:
        self.pending.append(Transition(kind=kind, status=view, events=self.events))
        self.events = []

    def hold(self, held: bool) -> None:
        """Hold back publishing while a grant or revoke round runs (local-first publishing only)."""
        self._held = held and self.local_first

    def idle(self) -> bool:
        return self.inflight is None and not self.pending and not self.events

    def carried(self) -> list[Transition]:
        """What a continued run publishes: a publish still in flight runs again (notifiers are idempotent)."""
        return (self.inflight or []) + self.pending

    def _due(self) -> bool:
        return self.closing or ((bool(self.pending) or bool(self.events)) and not self._held)

    async def run(self) -> None:
        """The publisher: until the run closes and everything is out."""
        while True:
            await workflow.wait_condition(self._due)
            if self.events and not self.pending:
                self.pending.append(Transition(kind=TransitionKind.AUDIT, status=self._view(), events=self.events))
                self.events = []
            if not self.pending:
                return
            batch, self.pending = self.pending, []
            self.inflight = batch
            await self._publish(batch)
            self.inflight = None

    async def _publish(self, batch: list[Transition]) -> None:
        summary = ", ".join(t.kind for t in batch)[:200]
        if self.local_first and not self._steps.remote_now():
            try:
                await workflow.execute_local_activity_method(
                    RecordActivities.publish_transitions,
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
        await workflow.execute_activity_method(
            RecordActivities.publish_transitions,
            PublishBatch(transitions=batch),
            start_to_close_timeout=PUBLISH_TIMEOUT,
            retry_policy=PUBLISH_RETRY,
            summary=summary,
        )
