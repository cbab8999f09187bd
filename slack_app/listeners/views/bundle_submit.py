"""The bundle form submitted."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt.async_app import AsyncAck

from grantflow.client import BadRequest, Refused
from slack_app.forms import block_id_of, read_bundle_form
from slack_app.identity import NoEmail
from slack_app.listeners.common import Body, Deps, about_them, inline, user_of
from slack_app.listeners.views.submitting import grantee, refused, submit


async def bundle_submitted(ack: AsyncAck, body: Body, deps: Deps) -> None:
    view = body["view"]
    form = read_bundle_form(view)
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
    if not form.bundle:
        await inline(ack, {block_id_of(view, "bundle"): "Choose a bundle"})
        return
    if form.resources is not None and not form.resources:
        await inline(ack, {block_id_of(view, "bundle_resources"): "Choose at least one resource"})
        return
    try:
        spec = await deps.client.check_request(
            requester=email,
            grantee=for_whom,
            bundle=form.bundle,
            resources=form.resources or [],
            duration=int(form.duration) if form.duration else None,
            justification=form.justification,
            source="slack",
            start_at=datetime.fromtimestamp(form.start_at, UTC) if form.start_at else None,
        )
    except (BadRequest, Refused) as exc:
        await refused(deps, ack, email, exc, view, "bundle")
        return
    await submit(deps, ack, body, spec)
