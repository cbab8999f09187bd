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


class PublishBatch(BaseModel):
    """Transitions accumulated since the last publish, oldest first."""

    transitions: list[Transition]
