"""The `grantflow` command: assembles the command groups and runs one command.

Exit codes: 0 success, 2 bad input or a refusal (one line on stderr), 1 when a service is unreachable.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from grantflow.cli import assist, audit, config, ops, policy, processes, requests
from grantflow.cli.common import CliError
from grantflow.settings import settings_problem

try:  # typer >= 0.16 vendors click; its exceptions are what it raises
    from typer._click import exceptions as _click_exceptions  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - older typer uses the click package
    from click import exceptions as _click_exceptions  # type: ignore[no-redef,unused-ignore]


def build_app() -> typer.Typer:
    """Every command, in the order `grantflow --help` lists them."""
    app = typer.Typer(
        name="grantflow",
        help="Just-in-time access requests on Temporal.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        add_completion=False,
    )
    app.callback()(_root)
    config.register(app)
    policy.register(app)
    requests.register(app)
    audit.register(app)
    app.command("worker")(processes.worker)
    app.command("dev")(processes.dev)
    ops.register(app)
    assist.register(app)
    app.command("mcp")(processes.mcp)
    app.command("slack")(processes.slack)
    return app


def version() -> str:
    """The installed grantflow's version (the package metadata; pyproject.toml's `version`)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("grantflow")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"grantflow {version()}\n")
        raise typer.Exit(0)


def _root(
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Just-in-time access requests on Temporal."""


app = build_app()


def _dispatch(argv: list[str] | None) -> int:
    """Run one command; return its exit code. Usage errors and refusals are one line on stderr, code 2."""
    try:
        # Without standalone mode click returns the code of a `typer.Exit` instead of raising it.
        code = app(args=argv, standalone_mode=False)
        return code if isinstance(code, int) and not isinstance(code, bool) else 0
    except _click_exceptions.UsageError as exc:
        sys.stderr.write(f"grantflow: error: {exc.format_message()}\n")
        return 2
    except CliError as exc:
        sys.stderr.write(f"grantflow: error: {exc}\n")
        return exc.code
    except ValidationError as exc:  # the environment's settings (grantflow.settings.Settings)
        sys.stderr.write(f"grantflow: error: {settings_problem(exc)}\n")
        return 2
    except typer.Abort:
        sys.stderr.write("grantflow: aborted\n")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> None:
    """The `grantflow` command. It leaves without interpreter teardown: the Temporal client's Rust threads
    can abort a finalizing interpreter (temporalio/sdk-python#300, "PyGILState_Release ... must be
    current"), which would turn a successful command into exit code -6."""
    code = _dispatch(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
