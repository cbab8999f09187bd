"""Favorites: keep a request as one, ask for one again, remove one."""

from __future__ import annotations

import asyncio

from grantflow.client import NotFound, Refused
from grantflow.domain.models import RequestSpec
from slack_app import views
from slack_app.listeners.common import Body, Deps, trigger_of, user_of


async def add(deps: Deps, body: Body, request_id: str) -> None:
    user_id = user_of(body)
    email = await deps.email(user_id)
    v = await deps.client.status(request_id)
    if email != v.requester:
        raise Refused("only the person who asked can keep this request as a favorite")
    spec = RequestSpec(
        requester=v.requester,
        grantee=v.grantee,
        items=v.grants,
        bundle=v.bundle,
        duration_seconds=v.duration_seconds,
        source="slack",
    )
    name = views.clip(views.what(v), 200)
    await asyncio.to_thread(deps.client.store.add_favorite, email, name, spec)
    await deps.tell(body, f":star: Saved *{name}* to your favorites (`/access favorites`).")
    await deps.publish_home(user_id, email)


async def use(deps: Deps, body: Body, favorite_id: str) -> None:
    """Opens the favorite's modal; `listeners/views/favorite_submit.py` submits it."""
    email = await deps.email(user_of(body))
    favs = await asyncio.to_thread(deps.client.store.favorites, email)
    fav = next((f for f in favs if str(f.id) == favorite_id), None)
    if fav is None:
        raise NotFound("that favorite no longer exists")
    await deps.web.views_open(trigger_id=trigger_of(body), view=views.favorite_modal(fav.id or 0, fav.name, fav.spec()))


async def remove(deps: Deps, body: Body, favorite_id: str) -> None:
    user_id = user_of(body)
    email = await deps.email(user_id)
    removed = favorite_id.isdigit() and await asyncio.to_thread(
        deps.client.store.remove_favorite, email, int(favorite_id)
    )
    await deps.tell(body, "Removed from your favorites." if removed else "That favorite was already gone.")
    await deps.publish_home(user_id, email)
