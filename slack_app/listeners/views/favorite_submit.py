"""A favorite asked for again, with a new justification."""

from __future__ import annotations

import asyncio

from slack_bolt.async_app import AsyncAck

from grantflow.client import BadRequest, Refused
from slack_app.forms import metadata_of, read_request_form
from slack_app.identity import NoEmail
from slack_app.listeners.common import Body, Deps, inline, user_of
from slack_app.listeners.views.submitting import refused, submit


async def favorite_submitted(ack: AsyncAck, body: Body, deps: Deps) -> None:
    view = body["view"]
    user_id = user_of(body)
    try:
        email = await deps.email(user_id)
    except NoEmail as exc:
        await inline(ack, {"justification": str(exc)})
        return
    fav_id = metadata_of(view).get("favorite_id")
    favs = await asyncio.to_thread(deps.client.store.favorites, email)
    fav = next((f for f in favs if f.id == fav_id), None)
    if fav is None:
        await inline(ack, {"justification": "This favorite no longer exists."})
        return
    saved = fav.spec()
    justification = str(read_request_form(view).justification)
    first = saved.items[0]
    try:
        spec = await deps.client.check_request(
            requester=email,
            grantee=saved.grantee,
            bundle=saved.bundle,
            integration=None if saved.bundle else first.integration,
            resource_type=None if saved.bundle else first.resource_type,
            permission=None if saved.bundle else first.permission,
            resources=[i.resource for i in saved.items],
            duration=saved.duration_seconds,
            justification=justification,
            source="slack",
        )
    except (BadRequest, Refused) as exc:
        await refused(deps, ack, email, exc, view, "justification")
        return
    await submit(deps, ack, body, spec)
