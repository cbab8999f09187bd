"""Options for external selects."""

from __future__ import annotations

from functools import partial

from slack_bolt.async_app import AsyncApp

from slack_app import ids
from slack_app.listeners.common import Deps
from slack_app.listeners.options.resources import resource_options


def register(app: AsyncApp, deps: Deps) -> None:
    app.options(ids.PICK_RESOURCES)(partial(resource_options, deps=deps))
