"""Building and opening the request forms, shared by `/access`, the Home tab, buttons and Assist."""

from __future__ import annotations

import asyncio
from typing import Any

from grantflow import catalog
from grantflow.assist import Suggestion
from grantflow.catalog import Choice, FormChoices
from grantflow.domain.durations import format_duration
from grantflow.domain.models import StatusView
from slack_app import views
from slack_app.forms import BundleForm, RequestForm
from slack_app.listeners.common import Deps

NOTHING_MATCHED = (
    "Assist found nothing you may request for that. Name the system or resource (a database, a folder) and "
    "what you need to do with it, or use `/access request` to pick from the full list."
)


def offering(choices: FormChoices, duration: str | None) -> FormChoices:
    """A duration Assist read from a sentence ("for 90 minutes") may be no standard menu entry: offer it too.
    The policy still checks it against the flow's maximum on submit."""
    if not duration or not duration.isdigit() or any(c.value == duration for c in choices.durations):
        return choices
    extra = Choice(duration, format_duration(int(duration)))
    choices.durations = sorted([*choices.durations, extra], key=lambda c: int(c.value))
    return choices


def request_view(deps: Deps, form: RequestForm) -> dict[str, Any]:
    cfg = deps.client.config
    choices = catalog.form_choices(cfg, form.requester, form.integration, form.resource_type)
    if not form.integration and len(choices.integrations) == 1:
        form.integration = choices.integrations[0].value
        choices = catalog.form_choices(cfg, form.requester, form.integration)
    if form.integration and not form.resource_type and len(choices.resource_types) == 1:
        form.resource_type = choices.resource_types[0].value
        choices = catalog.form_choices(cfg, form.requester, form.integration, form.resource_type)
    return views.request_modal(form, offering(choices, form.duration))


def bundle_view(deps: Deps, form: BundleForm) -> dict[str, Any]:
    cfg = deps.client.config
    bundles = catalog.bundle_choices(cfg, form.requester)
    if not form.bundle and len(bundles) == 1:
        form.bundle = bundles[0].value
    resources: list[Choice] = []
    bundle = cfg.bundle(form.bundle) if form.bundle else None
    if bundle is not None:
        resources = [Choice(i.resource, f"{i.resource} ({i.integration}, {i.permission})") for i in bundle.items]
    durations = offering(catalog.bundle_durations(cfg, form.requester, form.bundle), form.duration)
    return views.bundle_modal(form, bundles, resources, durations)


async def open_request(deps: Deps, trigger_id: str, user_id: str, again: StatusView | None = None) -> None:
    email = await deps.email(user_id)
    if again is not None and again.bundle:
        bform = BundleForm(
            requester=email,
            user_id=user_id,
            on_behalf=await deps.directory.user_id_for(again.grantee),
            bundle=again.bundle,
            resources=[g.resource for g in again.grants],
            duration=str(again.duration_seconds),
        )
        await deps.web.views_open(trigger_id=trigger_id, view=bundle_view(deps, bform))
        return
    form = RequestForm(requester=email, user_id=user_id)
    if again is not None and again.grants:
        first = again.grants[0]
        form.on_behalf = await deps.directory.user_id_for(again.grantee)
        form.integration, form.resource_type, form.permission = (
            first.integration,
            first.resource_type,
            first.permission,
        )
        form.resources = [g.resource for g in again.grants]
        form.duration = str(again.duration_seconds)
        form.again_of = again.request_id
    await deps.web.views_open(trigger_id=trigger_id, view=request_view(deps, form))


async def open_bundle(deps: Deps, trigger_id: str, user_id: str) -> None:
    email = await deps.email(user_id)
    await deps.web.views_open(
        trigger_id=trigger_id, view=bundle_view(deps, BundleForm(requester=email, user_id=user_id))
    )


async def suggestions(deps: Deps, email: str, text: str) -> list[Suggestion]:
    """Raises AssistError with a sentence for the person (empty or over-long text, no access flow)."""

    def work() -> list[Suggestion]:
        favorites = deps.client.store.favorites(email)
        return deps.assist(deps.client.config, email, text, favorites)

    return await asyncio.to_thread(work)
