"""Running the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP `POST /slack/events`."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from grantflow.client import GrantflowClient
from grantflow.settings import Settings
from slack_app.refs import ensure_tables

log = structlog.get_logger("grantflow.slack")
EVENTS_PATH = "/slack/events"


def web_app(bolt: AsyncApp) -> web.Application:
    """Commands, interactivity, options and events all arrive at one signed endpoint."""

    async def events(request: web.Request) -> web.Response:
        try:
            response = await bolt.async_dispatch(await to_bolt_request(request))
        except Exception as exc:
            # bolt reads the body before it checks the signature, and again for every error handler, and
            # raises on fields of the wrong type ({"user": false}, "actions": []): that is a malformed request,
            # not a fault of ours, and no handler of ours has run on it.
            log.warning("malformed slack request", content_type=request.content_type, error=repr(exc)[:300])
            return web.json_response({"ok": False, "error": "malformed_request"}, status=400)
        return await to_aiohttp_response(response)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", health)
    return application


class ConfigurationError(Exception):
    pass


async def serve(settings: Settings) -> None:
    from grantflow.observability.logs import configure_logging
    from slack_app.app import build_app

    configure_logging()
    if not settings.slack_bot_token:
        raise ConfigurationError("SLACK_BOT_TOKEN is not set (see docs/slack.md)")
    socket_mode = bool(settings.slack_app_token)
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigurationError("set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode")
    client = await GrantflowClient.connect(settings, via="slack")
    await asyncio.to_thread(ensure_tables, client.store)
    bolt = build_app(settings, client, socket_mode=socket_mode)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt, settings.slack_app_token)
        await handler.connect_async()
        log.info("slack app connected (Socket Mode)")
        await stop.wait()
        await handler.close_async()
    else:
        runner = web.AppRunner(web_app(bolt))
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", settings.slack_port).start()
        log.info("slack app listening", url=f"http://0.0.0.0:{settings.slack_port}{EVENTS_PATH}")
        await stop.wait()
        await runner.cleanup()
    log.info("slack app stopped")
