"""`grantflow worker|dev|slack|mcp`: the long-running processes. Each imports what it runs only when it
runs, so the rest of the command line never loads the worker, the Slack app or the MCP server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from grantflow.cli.common import CliError
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable


def worker() -> None:
    """Run the worker (workflows and activities) until Ctrl-C."""
    from worker import run_worker

    asyncio.run(run_worker(Settings()))


def dev(
    no_slack: Annotated[bool, typer.Option("--no-slack", help="Do not start the Slack app.")] = False,
    no_postgres: Annotated[bool, typer.Option("--no-postgres", help="Do not start the demo PostgreSQL.")] = False,
) -> None:
    """Run the whole stack locally: Temporal dev server, demo PostgreSQL, worker, Slack app."""
    from grantflow.dev.launcher import run_dev

    raise typer.Exit(run_dev(slack=not no_slack, postgres=not no_postgres))


def mcp(
    http: Annotated[int | None, typer.Option("--http", help="Serve streamable HTTP on this port (path /mcp).")] = None,
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="HTTP without GRANTFLOW_MCP_TOKENS: 127.0.0.1 only, every caller acts as GRANTFLOW_MCP_USER.",
        ),
    ] = False,
) -> None:
    """Run the MCP server for AI tools: stdio by default, streamable HTTP with --http PORT (every HTTP request
    needs `Authorization: Bearer TOKEN`, tokens from GRANTFLOW_MCP_TOKENS)."""
    from grantflow.mcp.server import HttpRefused, run

    try:
        run(http_port=http, host=host, insecure_no_auth=insecure_no_auth)
    except HttpRefused as exc:
        raise CliError(str(exc)) from None


def slack() -> None:
    """Run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on GRANTFLOW_SLACK_PORT)."""
    from slack_app.server import ConfigurationError, serve

    try:
        asyncio.run(serve(Settings()))
    except (ConfigurationError, TemporalUnavailable) as exc:
        raise CliError(str(exc), code=2 if isinstance(exc, ConfigurationError) else 1) from None
