"""Approve and Reject, on the approvers' copies of a request message and in their Home tab."""

from __future__ import annotations

from grantflow.client import Refused
from grantflow.domain.models import AccessStatus
from slack_app import views
from slack_app.listeners.common import Body, Deps, channel_of, trigger_of, user_of


async def approve(deps: Deps, body: Body, request_id: str) -> None:
    await deps.client.approve(request_id, await deps.email(user_of(body)))


async def reject(deps: Deps, body: Body, request_id: str) -> None:
    """Opens the modal asking for a reason; `listeners/views/reject_submit.py` rejects."""
    email = await deps.email(user_of(body))
    v = await deps.client.status(request_id)
    if v.status != AccessStatus.PENDING_APPROVAL:
        raise Refused(f"request {v.request_id} is already {v.status.value}")
    if email in (v.requester, v.grantee):
        raise Refused("you cannot reject your own request: withdraw it instead")
    view = views.reject_modal(v, channel_of(body), deps.directory.mentions())
    await deps.web.views_open(trigger_id=trigger_of(body), view=view)
