"""Every listener of the app, registered by kind (the layout of slack-samples/bolt-python-starter-template):
`commands/`, `actions/`, `views/` (modal submissions), `events/`, `options/`; one concern per module."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from slack_app.listeners import actions, commands, events, options, views
from slack_app.listeners.common import Deps


def register_listeners(app: AsyncApp, deps: Deps) -> None:
    commands.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    events.register(app, deps)
    options.register(app, deps)
