"""The Home tab's "Create New Request" and "Request a bundle"."""

from __future__ import annotations

from slack_app.listeners.common import Body, Deps, trigger_of, user_of
from slack_app.listeners.opening import open_bundle, open_request


async def new_request(deps: Deps, body: Body, _value: str) -> None:
    await open_request(deps, trigger_of(body), user_of(body))


async def new_bundle(deps: Deps, body: Body, _value: str) -> None:
    await open_bundle(deps, trigger_of(body), user_of(body))
