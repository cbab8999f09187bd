"""Assist's buttons: "Ask Assist" (Home tab, request form) and "Choose" on one of its suggestions."""

from __future__ import annotations

from typing import Any

from grantflow.client import BadRequest
from slack_app import views
from slack_app.forms import AssistPick, BundleForm, RequestForm, metadata_of
from slack_app.listeners.common import Body, Deps, trigger_of, user_of
from slack_app.listeners.opening import bundle_view, request_view


async def ask(deps: Deps, body: Body, _value: str) -> None:
    """From inside the request form the form gives way to the question; elsewhere a new modal opens."""
    view = body.get("view") or {}
    if view.get("type") == "modal" and view.get("id"):
        await deps.web.views_update(view_id=str(view["id"]), view=views.assist_modal())
    else:
        await deps.web.views_open(trigger_id=trigger_of(body), view=views.assist_modal())


async def pick(deps: Deps, body: Body, value: str) -> None:
    """The chosen suggestion becomes the request (or bundle) form, filled in, with the sentence as the why."""
    chosen = AssistPick.parse(value)
    view = body.get("view") or {}
    if chosen is None or not view.get("id"):
        raise BadRequest("that suggestion can no longer be used: ask Assist again")
    user_id = user_of(body)
    email = await deps.email(user_id)
    sentence = str(metadata_of(view).get("text") or "")
    duration = str(chosen.duration) if chosen.duration else None
    new: dict[str, Any]
    if chosen.bundle:
        bform = BundleForm(
            requester=email,
            user_id=user_id,
            bundle=chosen.bundle,
            resources=chosen.resources or None,
            duration=duration,
            justification=sentence,
        )
        new = bundle_view(deps, bform)
    else:
        form = RequestForm(
            requester=email,
            user_id=user_id,
            integration=chosen.integration,
            resource_type=chosen.resource_type,
            resources=chosen.resources,
            permission=chosen.permission,
            duration=duration,
            justification=sentence,
        )
        new = request_view(deps, form)
    await deps.web.views_update(view_id=str(view["id"]), hash=view.get("hash"), view=new)
