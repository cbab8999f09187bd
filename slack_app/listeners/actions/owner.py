"""What the requester and grantee do with their request: extend, revoke or withdraw, see the access
details or the whole request, ask again."""

from __future__ import annotations

from slack_app import views
from slack_app.listeners.common import Body, Deps, trigger_of, user_of
from slack_app.listeners.opening import open_request


async def revoke(deps: Deps, body: Body, request_id: str) -> None:
    await deps.client.revoke(request_id, await deps.email(user_of(body)))


async def extend(deps: Deps, body: Body, request_id: str) -> None:
    v = await deps.client.extend(request_id, await deps.email(user_of(body)))
    await deps.tell(body, f"Extended: access to {views.what(v)} now ends {views.slack_date(v.expires_at)}.")


async def details(deps: Deps, body: Body, request_id: str) -> None:
    email = await deps.email(user_of(body))
    found = await deps.client.details(request_id, email)
    v = await deps.client.status(request_id)
    await deps.web.views_open(trigger_id=trigger_of(body), view=views.details_modal(v, found))


async def again(deps: Deps, body: Body, request_id: str) -> None:
    v = await deps.client.status(request_id)
    await open_request(deps, trigger_of(body), user_of(body), again=v)


async def more(deps: Deps, body: Body, request_id: str) -> None:
    v = await deps.client.status(request_id)
    view = views.status_modal(v, deps.directory.mentions())
    await deps.web.views_open(trigger_id=trigger_of(body), view=view)
