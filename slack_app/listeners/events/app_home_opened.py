"""The Home tab opened: publish it fresh."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck

from slack_app import views
from slack_app.identity import NoEmail
from slack_app.listeners.common import Body, Deps, log


async def app_home_opened(ack: AsyncAck, event: Body, deps: Deps) -> None:
    await ack()
    if event.get("tab", "home") != "home":
        return
    user_id = str(event.get("user") or "")
    try:
        await deps.publish_home(user_id, await deps.email(user_id))
    except NoEmail as exc:
        await deps.web.views_publish(user_id=user_id, view={"type": "home", "blocks": [views.section(str(exc))]})
    except Exception:
        log.exception("home tab failed", user=user_id)
