"""Operator commands: `grantflow schedules apply`, `reconcile`, `codec-server`, `ui-links`.

Registered on the main app by `register(app)` (grantflow/cli/app.py); imports no other command module.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer

from grantflow.domain.durations import DurationError, parse_duration
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable

T = TypeVar("T")


def _fail(message: str, code: int = 2) -> typer.Exit:
    sys.stderr.write(f"grantflow: error: {message}\n")
    return typer.Exit(code)


def _exit_now() -> None:
    """Leave without interpreter teardown: the Temporal client's Rust threads can abort a finalizing
    interpreter (temporalio/sdk-python#300, "PyGILState_Release ... must be current"), which would turn a
    successful one-shot command into exit code -6."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _with_temporal(fn: Callable[..., Awaitable[T]]) -> T:
    from grantflow.temporal import connect

    async def go() -> T:
        return await fn(await connect(Settings()))

    try:
        return asyncio.run(go())
    except TemporalUnavailable as exc:
        raise _fail(str(exc), 1) from None


def schedules_apply(
    every: Annotated[str, typer.Option(help="How often reconciliation runs (e.g. 15m, 1h).")] = "15m",
) -> None:
    """Create or update grantflow's Temporal Schedules (idempotent)."""
    from grantflow.schedules import apply_schedules

    try:
        seconds = parse_duration(every)
    except DurationError as exc:
        raise _fail(f"--every: {exc}") from None
    if seconds < 60:
        raise _fail("--every must be at least 1m")
    settings = Settings()
    applied = _with_temporal(lambda c: apply_schedules(c, settings.task_queue, timedelta(seconds=seconds)))
    for a in applied:
        sys.stdout.write(a.line() + "\n")
    _exit_now()


def reconcile(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report drift without revoking anything.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run reconciliation once (a worker must be running) and print its findings."""
    from grantflow.schedules import run_reconcile_once

    settings = Settings()
    report = _with_temporal(lambda c: run_reconcile_once(c, settings.task_queue, dry_run))
    if json_:
        sys.stdout.write(json.dumps(report.model_dump(mode="json"), indent=2) + "\n")
        _exit_now()
    sys.stdout.write(report.summary() + "\n")
    for f in report.findings:
        sys.stdout.write("  " + f.line() + "\n")
    if report.not_listable:
        sys.stdout.write("  not checkable (cannot list their grants): " + ", ".join(report.not_listable) + "\n")
    for integration, error in sorted(report.errors.items()):
        sys.stdout.write(f"  could not check {integration}: {error}\n")
    _exit_now()


def codec_server(
    host: Annotated[str, typer.Option(help="Listen address (anyone who reaches it can decrypt).")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8081,
    ui_origin: Annotated[list[str] | None, typer.Option("--ui-origin", help="Web UI origin allowed by CORS.")] = None,
) -> None:
    """Serve /encode and /decode for the Temporal Web UI and CLI (keys from GRANTFLOW_ENCRYPTION_KEYS, else the
    key `grantflow dev` generated into .grantflow/, like every other command)."""
    from grantflow.observability.logs import configure_logging
    from grantflow.payloads.codec import EncryptionCodec, parse_keys
    from grantflow.payloads.codec_server import DEFAULT_UI_ORIGIN, serve

    configure_logging()
    keys = Settings().encryption_keys
    if not keys:
        raise _fail("no encryption keys: set GRANTFLOW_ENCRYPTION_KEYS (or run `grantflow dev` once)", 2)
    try:
        codec = EncryptionCodec(parse_keys(keys))
        asyncio.run(serve(host, port, codec=codec, ui_origin=ui_origin or [DEFAULT_UI_ORIGIN]))
    except KeyboardInterrupt:
        return
    except (ValueError, OSError) as exc:
        raise _fail(str(exc), 1) from None


def ui_links(json_: Annotated[bool, typer.Option("--json", help="Print JSON: view → link.")] = False) -> None:
    """Web UI links for the ready-made views (pending approval, active now, expiring in the next hour, failed
    today), with the current time filled in (TEMPORAL_UI_URL, TEMPORAL_NAMESPACE)."""
    from datetime import UTC, datetime

    from grantflow.domain.ui_views import ui_link, views

    settings = Settings()
    links = {
        name: ui_link(settings.temporal_ui_url, settings.temporal_namespace, query)
        for name, query in views(datetime.now(UTC)).items()
    }
    if json_:
        sys.stdout.write(json.dumps(links, indent=2) + "\n")
        return
    for name, link in links.items():
        sys.stdout.write(f"{name}: {link}\n")


def register(app: typer.Typer) -> None:
    schedules = typer.Typer(help="Temporal Schedules grantflow owns.", no_args_is_help=True)
    schedules.command("apply")(schedules_apply)
    app.add_typer(schedules, name="schedules")
    app.command("reconcile")(reconcile)
    app.command("codec-server")(codec_server)
    app.command("ui-links")(ui_links)
