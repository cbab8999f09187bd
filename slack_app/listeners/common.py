"""What every listener shares: who acted and where, telling them, turning failures into sentences.

Listeners ack first (Slack wants an answer within 3 seconds) and then only talk to
`grantflow.client.GrantflowClient`; a person is known by the email `slack_app.identity` resolves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from slack_bolt.async_app import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from grantflow.assist import Suggestion
from grantflow.client import GrantflowClient, GrantflowError
from grantflow.domain.config import GrantflowConfig
from slack_app import views
from slack_app.home import home_for
from slack_app.identity import Barred, Directory, NoEmail

log = structlog.get_logger("grantflow.slack")
T = TypeVar("T")
Body = dict[str, Any]
# Leave Slack's 3-second window some room for the network.
INLINE_BUDGET_SECONDS = 2.0
SOMETHING_WRONG = "Something went wrong on our side; nothing was changed. Try again in a minute."

# `grantflow.assist.suggest` unless a test or deployment brings its own: (config, person, text, favorites).
Suggester = Callable[[GrantflowConfig, str, str, Sequence[Any]], list[Suggestion]]


def user_of(body: Body) -> str:
    user = body.get("user")
    return str(user.get("id") if isinstance(user, dict) else body.get("user_id") or "")


def channel_of(body: Body) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, dict) and channel.get("id"):
        return str(channel["id"])
    container = body.get("container") or {}
    return str(container["channel_id"]) if container.get("channel_id") else None


def trigger_of(body: Body) -> str:
    return str(body["trigger_id"])


@dataclass
class Deps:
    """What the listeners work with: the facade, the Web API client, the Slack user ⇄ email directory."""

    client: GrantflowClient
    web: AsyncWebClient
    directory: Directory
    assist: Suggester

    async def email(self, user_id: str) -> str:
        return await self.directory.email_of(user_id)

    async def tell(self, body: Body, text: str) -> None:
        """An ephemeral note to whoever acted, where they acted (a DM when there is no channel, e.g. Home)."""
        user = user_of(body)
        channel = channel_of(body)
        try:
            if channel:
                try:
                    await self.web.chat_postEphemeral(channel=channel, user=user, text=text)
                    return
                except SlackApiError as exc:
                    log.info("ephemeral failed, sending a DM", error=exc.response.get("error"))
            await self.web.chat_postMessage(channel=user, text=text)
        except SlackApiError as exc:
            log.warning("could not tell the user", user=user, error=exc.response.get("error"))

    async def guarded(self, body: Body, work: Awaitable[None]) -> None:
        """Turn every failure into a sentence for the person; log what was unexpected."""
        try:
            await work
        except NoEmail as exc:
            await self.tell(body, str(exc))
        except GrantflowError as exc:
            await self.tell(body, f":no_entry: {exc}")
        except Exception:
            log.exception("slack handler failed")
            await self.tell(body, SOMETHING_WRONG)

    async def publish_home(self, user_id: str, email: str) -> None:
        view = await asyncio.to_thread(home_for, self.client.store, email, self.directory.mentions())
        await self.web.views_publish(user_id=user_id, view=view)


async def inline(ack: AsyncAck, errors: dict[str, str]) -> None:
    """Answer a modal submission with errors shown under the named blocks."""
    await ack(response_action="errors", errors={k: views.clip(v, 300) for k, v in errors.items()})


def about_them(exc: NoEmail) -> str:
    """Why the person named in "Request on behalf of" cannot receive access, said of them."""
    if isinstance(exc, Barred):
        return exc.about_them
    return "That person has no usable email in Slack, so grantflow cannot know them."


async def drain(task: asyncio.Future[T]) -> None:
    await task


ButtonWork = Callable[[Deps, Body, str], Awaitable[None]]


def button(work: ButtonWork, deps: Deps) -> Callable[[AsyncAck, Body], Awaitable[None]]:
    """A button's listener: ack at once, then do `work(deps, body, value)` with failures told as sentences.
    The value is the request id (or favorite id) the button carries."""

    async def listener(ack: AsyncAck, body: Body) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        value = str(action.get("value") or "")
        await deps.guarded(body, work(deps, body, value))

    return listener
