"""`grantflow assist`: plain-language suggestions on the command line (nothing is submitted)."""

from __future__ import annotations

from typing import Annotated

import typer

from grantflow.assist import AssistError, Suggestion, suggest
from grantflow.cli.common import AsOpt, CliError, JsonOpt, config_problem, emit_json, out
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
        raise config_problem(exc) from None
    if json_:
        emit_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        out.print("No suggestion matched. Name the resource (e.g. a database or folder) and what you need to do.")
        return
    for n, s in enumerate(found, 1):
        out.print(f"[bold]{n}.[/bold] {s.explanation}")
        out.print("   " + _command_line(s).replace("{as}", as_), style="dim")


def register(app: typer.Typer) -> None:
    app.command("assist")(assist)
