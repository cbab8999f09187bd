"""Modal submissions and closings, each registered by its callback id (`slack_app/ids.py`)."""

from __future__ import annotations

from functools import partial

from slack_bolt.async_app import AsyncAck, AsyncApp

from slack_app import ids
from slack_app.listeners.common import Deps
from slack_app.listeners.views.assist_submit import assist_submitted
from slack_app.listeners.views.bundle_submit import bundle_submitted
from slack_app.listeners.views.favorite_submit import favorite_submitted
from slack_app.listeners.views.reject_submit import reject_submitted
from slack_app.listeners.views.request_submit import request_submitted


async def closed(ack: AsyncAck) -> None:
    """Closing a modal changes nothing."""
    await ack()


def register(app: AsyncApp, deps: Deps) -> None:
    app.view(ids.REQUEST_CALLBACK)(partial(request_submitted, deps=deps))
    app.view(ids.BUNDLE_CALLBACK)(partial(bundle_submitted, deps=deps))
    app.view(ids.FAVORITE_CALLBACK)(partial(favorite_submitted, deps=deps))
    app.view(ids.REJECT_CALLBACK)(partial(reject_submitted, deps=deps))
    app.view(ids.ASSIST_CALLBACK)(partial(assist_submitted, deps=deps))
    for callback_id in sorted(ids.MODALS):
        app.view_closed(callback_id)(closed)
