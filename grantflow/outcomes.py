"""What the client facade (grantflow/client.py) hands back to the front doors: its errors (one line each,
with the request field they are about), `Submitted`, and the final view of a closed request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from grantflow import requests
from grantflow.domain.models import AuditEvent, StatusView
from workflows.ending import REQUEST_FAILED_TYPE


async def final_view(handle: WorkflowHandle[Any, Any]) -> StatusView:
    """Wait for a request's workflow to close and return its final view: the result, or, for a FAILED
    request (whose workflow fails with the reason, docs/contract.md), the view its failure carries."""
    try:
        return StatusView.model_validate(await handle.result())
    except WorkflowFailureError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == REQUEST_FAILED_TYPE and cause.details:
            return StatusView.model_validate(cause.details[0])
        raise


class GrantflowError(Exception):
    """An error meant for the person at the front door (one line, no stack trace). `field` names the
    request field it is about, when it is about one (see grantflow.requests.Field)."""

    def __init__(self, message: str, field: requests.Field | None = None):
        super().__init__(message)
        self.field = field


class BadRequest(GrantflowError):
    pass


class NotFound(GrantflowError):
    pass


class Refused(GrantflowError):
    pass


def check_person(email: str | None) -> str:
    """A person's email as typed at a front door, checked by the one email rule (BadRequest when it fails)."""
    try:
        return requests.check_person(email, "requester")
    except requests.SpecError as exc:
        raise BadRequest(str(exc)) from None


@dataclass(frozen=True)
class Submitted:
    request_id: str
    workflow_id: str
    existing: bool = False
    # Sentences about resources that could not be checked at submission (shown with the request).
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"request_id": self.request_id, "workflow_id": self.workflow_id}
        return out | ({"unchecked": list(self.notes)} if self.notes else {})


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
