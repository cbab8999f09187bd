"""`/access` and its subcommands: request, bundle, favorites, my requests, assist, help."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncAck, AsyncRespond

from grantflow.assist import AssistError
from grantflow.client import GrantflowError
from slack_app import views
from slack_app.identity import NoEmail
from slack_app.listeners.common import SOMETHING_WRONG, Body, Deps, log, trigger_of, user_of
from slack_app.listeners.opening import NOTHING_MATCHED, open_bundle, open_request, suggestions


async def access_command(ack: AsyncAck, body: Body, respond: AsyncRespond, deps: Deps) -> None:
    text = str(body.get("text") or "").strip()
    sub = " ".join(text.lower().split())
    user_id = user_of(body)
    if sub == "help":
        await ack(blocks=views.help_message(), text="How to use /access")
        return
    await ack()

    async def say(message: str) -> None:
        await respond(text=message, response_type="ephemeral")

    try:
        if sub in ("", "request"):
            await open_request(deps, trigger_of(body), user_id)
        elif sub == "bundle":
            await open_bundle(deps, trigger_of(body), user_id)
        elif sub in ("favorites", "favourites"):
            email = await deps.email(user_id)
            favs = await asyncio.to_thread(deps.client.store.favorites, email)
            blocks = views.favorites_message([(f.id or 0, f.name, f.spec()) for f in favs])
            await respond(blocks=blocks, text="Your favorites", response_type="ephemeral")
        elif sub in ("my requests", "my", "mine", "requests"):
            email = await deps.email(user_id)
            mine = await deps.client.recent(email)
            blocks = views.my_requests_message(mine, email, deps.directory.mentions())
            await respond(blocks=blocks, text="Your requests", response_type="ephemeral")
        elif sub == "assist" or sub.startswith("assist "):
            await assist(deps, body, text[len("assist") :].strip(), say)
        else:
            await respond(
                blocks=[views.section(f"I don't know `/access {views.clip(text, 100)}`."), *views.help_message()],
                text="Unknown subcommand",
                response_type="ephemeral",
            )
    except NoEmail as exc:
        await say(str(exc))
    except GrantflowError as exc:
        await say(f":no_entry: {exc}")
    except Exception:
        log.exception("/access failed", text=text)
        await say(SOMETHING_WRONG)


async def assist(deps: Deps, body: Body, text: str, say: Callable[[str], Awaitable[None]]) -> None:
    """`/access assist <sentence>`: the suggestions open in a modal."""
    email = await deps.email(user_of(body))
    try:
        found = await suggestions(deps, email, text)
    except AssistError as exc:
        await say(f"Sorry, Assist cannot work with that: {exc}.")
        return
    if not found:
        await say(NOTHING_MATCHED)
        return
    await deps.web.views_open(trigger_id=trigger_of(body), view=views.assist_results_modal(text, found))
