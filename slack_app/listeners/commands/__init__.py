"""Slash commands."""

from __future__ import annotations

from functools import partial

from slack_bolt.async_app import AsyncApp

from slack_app.listeners.commands.access import access_command
from slack_app.listeners.common import Deps


def register(app: AsyncApp, deps: Deps) -> None:
    app.command("/access")(partial(access_command, deps=deps))
