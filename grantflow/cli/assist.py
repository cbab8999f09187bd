"""`grantflow assist` and `grantflow mcp`: plain-language suggestions and the MCP server on the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from grantflow.assist import AssistError, Suggestion, suggest
from grantflow.cli import AsOpt, CliError, JsonOpt, _emit_json, out
from grantflow.domain.config import ConfigError, load_config
from grantflow.domain.durations import format_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.settings import Settings
from grantflow.storage.store import Store


def _command_line(s: Suggestion) -> str:
    """The `grantflow request` that submits this suggestion, for copy and paste."""
    if s.bundle:
        what = f"--bundle {s.bundle}"
    else:
        res = " ".join(f"--resource {r}" for r in s.resources)
        what = f"--integration {s.integration} --resource-type {s.resource_type} {res} --permission {s.permission}"
    return f"grantflow request --as {{as}} {what} --duration {format_duration(s.duration_seconds)} --justification '…'"


def assist(
    text: Annotated[str, typer.Argument(help='What you need, e.g. "read the orders database for an hour".')],
    as_: AsOpt,
    limit: Annotated[int, typer.Option(min=1, max=20, help="How many suggestions.")] = 5,
    json_: JsonOpt = False,
) -> None:
    """Suggest complete requests you may make for a goal in plain language (nothing is submitted)."""

    # Offline on purpose: the catalog and favorites are local, so no Temporal connection is needed.
    settings = Settings()
    try:
        as_ = check_email(as_)
    except BadEmail as exc:
        raise CliError(str(exc)) from None
    try:
        cfg = load_config(settings.config_file)
        store = Store(settings.database_url)
        store.create_all()
        favorites = store.favorites(as_)
        found = suggest(cfg, as_, text, favorites=favorites, limit=limit)
    except AssistError as exc:
        raise CliError(str(exc)) from None
    except ConfigError as exc:
        raise CliError(str(exc).splitlines()[0] + " (run `grantflow config check`)") from None
    if json_:
        _emit_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        out.print("No suggestion matched. Name the resource (e.g. a database or folder) and what you need to do.")
        return
    for n, s in enumerate(found, 1):
        out.print(f"[bold]{n}.[/bold] {s.explanation}")
        out.print("   " + _command_line(s).replace("{as}", as_), style="dim")


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
