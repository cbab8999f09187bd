"""`grantflow slack`: registered by grantflow/cli.py; imports the Slack stack only when it runs."""

from __future__ import annotations

import asyncio


def slack() -> None:
    """Run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on GRANTFLOW_SLACK_PORT)."""
    from grantflow.cli import CliError
    from grantflow.settings import Settings
    from grantflow.temporal import TemporalUnavailable
    from slack_app.server import ConfigurationError, serve

    try:
        asyncio.run(serve(Settings()))
    except (ConfigurationError, TemporalUnavailable) as exc:
        raise CliError(str(exc), code=2 if isinstance(exc, ConfigurationError) else 1) from None
