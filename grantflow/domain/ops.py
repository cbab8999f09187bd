"""Activity inputs that only the workflow and its activities exchange."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from grantflow.domain.models import GrantItem, Transition


class ItemOp(BaseModel):
    """Grant, extend or revoke one item of one request."""

    request_id: str
    requester: str
    grantee: str
    item: GrantItem
    expires_at: datetime
    # Set on a grant whose clock starts when it takes effect (docs/contract.md, "When access starts and
    # ends"): the grant sets the target's expiry to that moment + this many seconds and reports it
    # (`GRANTED_UNTIL`); `expires_at` is then only the fallback of a worker that predates it.
    duration_seconds: int | None = None


# The key of a grant's result that holds the expiry it set on the target (ISO-8601), when asked to count it.
GRANTED_UNTIL = "expires_at"
# ...and, after a slow grant call, the expiry counted from the call's end (the workflow extends to it).
WANTED_UNTIL = "expires_at_wanted"


class PublishBatch(BaseModel):
    """Transitions accumulated since the last publish, oldest first."""

    transitions: list[Transition]
