"""Events API subscriptions."""

from __future__ import annotations

from functools import partial

from slack_bolt.async_app import AsyncApp

from slack_app.listeners.common import Deps
from slack_app.listeners.events.app_home_opened import app_home_opened


def register(app: AsyncApp, deps: Deps) -> None:
    app.event("app_home_opened")(partial(app_home_opened, deps=deps))
