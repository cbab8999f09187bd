"""Plumbing every `grantflow` command group shares: the error type, options, output and the client runner.

Imports nothing else from grantflow.cli, so every command module can use it without an import cycle.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from grantflow.client import BadRequest, GrantflowClient, GrantflowError, NotFound, Refused
from grantflow.domain.config import ConfigError
from grantflow.domain.durations import format_duration
from grantflow.domain.models import StatusView
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable

out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")

AsOpt = Annotated[str, typer.Option("--as", help="Who you are (email).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class CliError(Exception):
    """One line for stderr (`grantflow: error: ...`) and the exit code: 2 bad input or a refusal, 1 a
    service unreachable."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def config_problem(exc: ConfigError) -> CliError:
    return CliError(str(exc).splitlines()[0] + " (run `grantflow config check`)")


def run(fn: Callable[[GrantflowClient], Awaitable[T]]) -> T:
    """Connect the client facade, run `fn` with it, and turn its errors into one-line CLI errors."""

    async def go() -> T:
        client = await GrantflowClient.connect(Settings())
        return await fn(client)

    try:
        return asyncio.run(go())
    except (BadRequest, Refused, NotFound) as exc:
        raise CliError(str(exc)) from None
    except TemporalUnavailable as exc:
        raise CliError(str(exc), code=1) from None
    except ConfigError as exc:
        raise config_problem(exc) from None
    except GrantflowError as exc:
        raise CliError(str(exc)) from None


def local(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return dt.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def print_status(v: StatusView) -> None:
    out.print(f"[bold]{v.request_id}[/bold]  {v.status.value}" + (f"  ({v.status_reason})" if v.status_reason else ""))
    out.print(f"  requester   {v.requester}" + (f"  for {v.grantee}" if v.grantee != v.requester else ""))
    for g in v.grants:
        out.print(f"  grant       {g.label()}")
    out.print(f"  flow        {v.flow_name or v.flow_id or '—'}")
    approvals = ", ".join(a.approver + (" (break-glass)" if a.break_glass else "") for a in v.approvals) or "none"
    out.print(f"  approvals   {len(v.approvals)}/{v.approvals_required}: {approvals}")
    out.print(f"  duration    {format_duration(v.duration_seconds)}")
    out.print(f"  expires     {local(v.expires_at)}")
    if v.extension_enabled:
        out.print(f"  extensions  {v.extensions_used}/{v.max_extensions}")


def list_link(person: str | None, status: str | None) -> str:
    """The Web UI link showing what `grantflow list` shows (TEMPORAL_UI_URL, TEMPORAL_NAMESPACE)."""
    from grantflow.domain.policy import normalize_email
    from grantflow.domain.ui_views import list_query, ui_link

    settings = Settings()
    query = list_query(normalize_email(person) if person else None, status)
    return ui_link(settings.temporal_ui_url, settings.temporal_namespace, query)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
