"""The selects that reshape a request form as the person chooses (integration, resource type, bundle)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError

from slack_app import ids
from slack_app.forms import read_bundle_form, read_request_form
from slack_app.listeners.common import Body, Deps
from slack_app.listeners.opening import bundle_view, request_view


async def form_changed(ack: AsyncAck, body: Body, deps: Deps) -> None:
    await ack()
    view = body["view"]

    async def work() -> None:
        if view.get("callback_id") == ids.BUNDLE_CALLBACK:
            new = bundle_view(deps, read_bundle_form(view))
        else:
            new = request_view(deps, read_request_form(view))
        try:
            await deps.web.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
        except SlackApiError as exc:
            if exc.response.get("error") != "hash_conflict":
                raise

    await deps.guarded(body, work())
