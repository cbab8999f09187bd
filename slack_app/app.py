"""The Slack front door, built: the bolt app with every listener of `slack_app/listeners/` registered.

Listeners ack first (Slack wants an answer within 3 seconds) and then only talk to
`grantflow.client.GrantflowClient`. A refusal comes back as an inline field error in a modal, or as an
ephemeral message to the person who clicked; nothing a person sends yields a 500.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from grantflow.assist import suggest
from grantflow.client import GrantflowClient
from grantflow.settings import Settings
from slack_app.identity import Directory
from slack_app.listeners import register_listeners
from slack_app.listeners.common import Deps, Suggester
from slack_app.web import make_web_client

log = structlog.get_logger("grantflow.slack")


def build_app(
    settings: Settings,
    client: GrantflowClient,
    *,
    web: AsyncWebClient | None = None,
    assist: Suggester | None = None,
    socket_mode: bool = False,
) -> AsyncApp:
    """The bolt app. HTTP mode verifies every request's signature (5-minute replay window).
    `assist` defaults to `grantflow.assist.suggest` (offline, reads the person's favorites from the store)."""
    web = web or make_web_client(settings)
    directory = Directory(web, settings.slack_identity_ttl, allow_guests=lambda: client.config.slack.allow_guests)
    deps = Deps(client=client, web=web, directory=directory, assist=assist or suggest)
    app = AsyncApp(
        client=web,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not socket_mode,
        raise_error_for_unhandled_request=False,
    )
    register_listeners(app, deps)
    app.error(_on_error)
    return app


# What reading fields of the wrong type or missing ones raises, in bolt's own matching or in a handler.
MALFORMED = (KeyError, IndexError, TypeError, AttributeError, ValueError)


async def _on_error(error: Exception, body: Any) -> BoltResponse | None:
    """A signed payload that is not shaped as Slack shapes it (which Slack never sends) is answered 400, not
    bolt's 500: a 500 would claim a fault of ours. Anything else keeps bolt's 500, with the traceback logged."""
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(error, MALFORMED):
        log.warning("malformed slack payload", type=kind, error=repr(error)[:300])
        return BoltResponse(status=400, body="")
    log.error("slack request failed", type=kind, exc_info=error)
    return None
