"""`grantflow config check`: validate the access-flow configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from grantflow.cli.common import JsonOpt, emit_json, out
from grantflow.domain.config import ConfigError, check_config


def config_check(
    file: Annotated[
        Path | None, typer.Argument(metavar="FILE", help="Default: GRANTFLOW_CONFIG or ./grantflow.yml")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Validate a config file; print every problem with its line (warnings too, which do not fail it)."""
    try:
        cfg, warnings = check_config(file)
    except ConfigError as exc:
        if json_:
            emit_json({"ok": False, "problems": exc.problems})
        else:
            for p in exc.problems:
                sys.stderr.write(p + "\n")
        raise typer.Exit(2) from None
    if json_:
        emit_json(
            {
                "ok": True,
                "problems": [],
                "warnings": warnings,
                "integrations": len(cfg.integrations),
                "bundles": len(cfg.bundles),
                "access_flows": len(cfg.access_flows),
                "groups": len(cfg.groups),
            }
        )
        return
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
