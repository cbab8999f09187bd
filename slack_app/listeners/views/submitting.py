"""What the three request modals (request, bundle, favorite) share when they are submitted."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck

from grantflow.client import GrantflowError, new_request_id
from grantflow.domain.models import RequestSpec
from slack_app import views
from slack_app.forms import refusal_block
from slack_app.listeners.common import Body, Deps, inline, log


async def grantee(deps: Deps, user_id: str, email: str, on_behalf: str | None) -> str:
    """The email of the person the request is for: the one asking, unless they chose someone else."""
    if not on_behalf or on_behalf == user_id:
        return email
    return await deps.email(on_behalf)


async def refused(deps: Deps, ack: AsyncAck, email: str, exc: GrantflowError, view: Body, fallback: str) -> None:
    """A refusal, shown next to the field it is about (the facade has already audited a policy refusal)."""
    message = str(exc)
    await inline(ack, {refusal_block(view, exc.field, fallback): message})


async def submit(deps: Deps, ack: AsyncAck, body: Body, spec: RequestSpec) -> None:
    """The view id is the idempotency key: Slack re-sending a submission starts no second workflow."""
    key = str(body["view"]["id"])
    await ack(response_action="update", view=views.submitted_modal(new_request_id(key, spec.requester)))
    await deps.guarded(body, _start(deps, spec, key))


async def _start(deps: Deps, spec: RequestSpec, key: str) -> None:
    sub = await deps.client.submit(spec, idempotency_key=key)
    log.info("request submitted from slack", request_id=sub.request_id, existing=sub.existing)
