"""A button no listener knows (one an older version put on a message): tell the person instead of leaving
Slack's "something went wrong" on their screen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from slack_app import ids
from slack_app.listeners.common import Body, Deps

UNKNOWN_BUTTON = "That button is not one I know (it may come from an older version). Try `/access help`."


def unknown_action_id(body: Any) -> str | None:
    """The action id of a block action that no listener handles; None for anything else."""
    if not isinstance(body, dict) or body.get("type") != "block_actions":
        return None
    actions = body.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    action_id = first.get("action_id") if isinstance(first, dict) else None
    if isinstance(action_id, str) and action_id not in ids.ACTIONS:
        return action_id
    return None


def register_unknown(app: AsyncApp, deps: Deps) -> None:
    """A middleware, not a listener: listeners match by their own ids, so "anything else" is not one."""
    pending: set[asyncio.Task[None]] = set()

    async def unknown_button(body: Body, next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        if unknown_action_id(body) is None:
            await next()
            return None
        task = asyncio.ensure_future(deps.tell(body, UNKNOWN_BUTTON))
        pending.add(task)
        task.add_done_callback(pending.discard)
        return BoltResponse(status=200, body="")

    app.middleware(unknown_button)
