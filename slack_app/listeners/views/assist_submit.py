"""The Assist question submitted: the modal turns into its suggestions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck

from grantflow.assist import AssistError
from slack_app import ids, views
from slack_app.forms import read_assist_text
from slack_app.identity import NoEmail
from slack_app.listeners.common import Body, Deps, inline, user_of
from slack_app.listeners.opening import NOTHING_MATCHED, suggestions


async def assist_submitted(ack: AsyncAck, body: Body, deps: Deps) -> None:
    view = body["view"]
    text = read_assist_text(view)
    try:
        email = await deps.email(user_of(body))
        found = await suggestions(deps, email, text)
    except (NoEmail, AssistError) as exc:
        await inline(ack, {ids.ASSIST_TEXT: str(exc)})
        return
    if not found:
        await inline(ack, {ids.ASSIST_TEXT: NOTHING_MATCHED})
        return
    await ack(response_action="update", view=views.assist_results_modal(text, found))
