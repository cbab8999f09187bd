"""`grantflow config check`: validate the access-flow configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grantflow.cli.common import out
from grantflow.domain.config import ConfigError, check_config


def config_check(
    file: Annotated[Path | None, typer.Argument(help="Default: GRANTFLOW_CONFIG or ./grantflow.yml")] = None,
) -> None:
    """Validate a config file; print every problem with its line (warnings too, which do not fail it)."""
    try:
        cfg, warnings = check_config(file)
    except ConfigError as exc:
        for p in exc.problems:
            sys.stderr.write(p + "\n")
        raise typer.Exit(2) from None
    for w in warnings:
        sys.stderr.write(w + "\n")
    out.print(
        f"OK: {len(cfg.integrations)} integrations, {len(cfg.bundles)} bundles, "
        f"{len(cfg.access_flows)} access flows, {len(cfg.groups)} groups"
    )


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Check the access-flow configuration.", no_args_is_help=True)
    config_app.command("check")(config_check)
    app.add_typer(config_app, name="config")
