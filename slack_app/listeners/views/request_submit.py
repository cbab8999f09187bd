"""The request form submitted: check the choices, build the spec through the facade, start the request."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt.async_app import AsyncAck

from grantflow.client import BadRequest, Refused
from slack_app.forms import block_id_of, missing_choices, read_request_form
from slack_app.identity import NoEmail
from slack_app.listeners.common import Body, Deps, about_them, inline, user_of
from slack_app.listeners.views.submitting import grantee, refused, submit


async def request_submitted(ack: AsyncAck, body: Body, deps: Deps) -> None:
    view = body["view"]
    form = read_request_form(view)
    user_id = user_of(body)
    try:
        email = await deps.email(user_id)
    except NoEmail as exc:
        await inline(ack, {block_id_of(view, "on_behalf"): str(exc)})
        return
    try:
        for_whom = await grantee(deps, user_id, email, form.on_behalf)
    except NoEmail as exc:
        await inline(ack, {block_id_of(view, "on_behalf"): about_them(exc)})
        return
    missing = missing_choices(view, form)
    if missing:
        await inline(ack, missing)
        return
    try:
        spec = await deps.client.check_request(
            requester=email,
            grantee=for_whom,
            integration=form.integration,
            resource_type=form.resource_type,
            resources=form.resources,
            permission=form.permission,
            duration=int(form.duration) if form.duration else None,
            justification=form.justification,
            source="slack",
            start_at=datetime.fromtimestamp(form.start_at, UTC) if form.start_at else None,
        )
    except (BadRequest, Refused) as exc:
        await refused(deps, ack, email, exc, view, "resources")
        return
    await submit(deps, ack, body, spec)
