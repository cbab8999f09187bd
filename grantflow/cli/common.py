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
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError

from grantflow.client import BadRequest, GrantflowClient, GrantflowError, NotFound, Refused
from grantflow.domain.config import ConfigError
from grantflow.domain.durations import format_duration
from grantflow.domain.models import Approval, StatusView
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable

out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")

AsOpt = Annotated[str, typer.Option("--as", metavar="EMAIL", help="Who you are (email).")]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="The request id (or its workflow id).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


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
    except RPCError as exc:  # the server refused the call: say what it said, not a traceback
        raise CliError(
            f"Temporal refused the call ({exc.status.name if exc.status else 'error'}): {exc.message}", 1
        ) from None


def local(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return dt.astimezone().strftime("%Y-%m-%d %H:%M %Z")


# States that never had (or no longer have) an expiry worth showing.
_NO_EXPIRY = {"FAILED", "REJECTED"}


def approval_text(a: Approval) -> str:
    """`bob@example.com at 2026-12-03 14:05 UTC (slack)`: who approved, when and how; `(UNVERIFIED: Temporal
    API)` for an unproven approval, `(break-glass)` and the comment when there are."""
    how = " (break-glass)" if a.break_glass else ""
    if a.verified is False:
        how += " (UNVERIFIED: Temporal API)" if a.via in ("", "temporal") else f" (UNVERIFIED: {a.via})"
    elif a.verified:
        how += f" ({a.via})"
    note = f': "{a.comment}"' if a.comment else ""
    return f"{a.approver} at {local(a.at)}{how}{note}"


def print_status(v: StatusView) -> None:
    out.print(f"[bold]{v.request_id}[/bold]  {v.status.value}" + (f"  ({v.status_reason})" if v.status_reason else ""))
    out.print(f"  requester   {v.requester}" + (f"  for {v.grantee}" if v.grantee != v.requester else ""))
    for g in v.grants:
        out.print(f"  grant       {g.label()}")
    out.print(f"  flow        {v.flow_name or v.flow_id or '—'}")
    if v.approvals_required == 0:
        out.print("  approval    automatic (the flow needs no approver)")
    else:
        out.print(f"  approvers   {', '.join(v.approvers) or '—'}")
        out.print(f"  approvals   {len(v.approvals)}/{v.approvals_required}" + (":" if v.approvals else ""))
        for a in v.approvals:
            out.print(f"    - {approval_text(a)}")
    for r in v.refused:
        out.print(f"  refused     {r.action} by {r.actor} at {local(r.at)} — {r.reason}", markup=False)
    if v.escalated_to:
        out.print(f"  escalated   to {', '.join(v.escalated_to)}")
    if v.escalates_at:
        out.print(f"  escalates   {local(v.escalates_at)} to {', '.join(v.escalates_to)}")
    if v.approval_deadline:
        out.print(f"  times out   {local(v.approval_deadline)} without approval")
    if v.start_at:
        out.print(f"  starts      {local(v.start_at)}")
    if v.rejected_by:
        out.print(f"  rejected by {v.rejected_by}")
    if v.revoked_by:
        out.print(f"  revoked by  {v.revoked_by}")
    out.print(f"  duration    {format_duration(v.duration_seconds)}")
    if v.status.value in ("EXPIRED", "REVOKED"):
        out.print(f"  ended       {local(v.ended_at or v.expires_at)}")
    elif v.status.value not in _NO_EXPIRY:
        out.print(f"  expires     {local(v.expires_at)}")
    if v.extension_enabled:
        out.print(f"  extensions  {v.extensions_used}/{v.max_extensions}")


# A column that may wrap gets at least this many characters before the table is printed wider than the terminal.
FOLDED_WIDTH = 12


def whole_table(*columns: str, whole: tuple[str, ...] = ()) -> Table:
    """A table whose `whole` columns (ids, emails, ...) never wrap; see `print_table`."""
    table = Table()
    for name in columns:
        if name in whole:
            table.add_column(name, no_wrap=True, overflow="ignore")
        else:
            table.add_column(name, overflow="fold")
    return table


def print_table(table: Table) -> None:
    """Print a table so that no id or email is cut: the other columns wrap first, and when even that does not
    fit, the table is printed wider than the terminal (a terminal wraps the long lines; a file keeps them)."""
    needed = 1
    for column in table.columns:
        widths = [cell_len(str(c)) for c in (column.header, *column.cells)]
        needed += 3 + (max(widths) if column.no_wrap else min(max(widths), FOLDED_WIDTH))
    if needed <= out.width:
        out.print(table)
        return
    Console(highlight=False, soft_wrap=True, width=needed).print(table)


def list_link(person: str | None, status: str | None) -> str:
    """The Web UI link showing what `grantflow list` shows (TEMPORAL_UI_URL, TEMPORAL_NAMESPACE)."""
    from grantflow.domain.policy import normalize_email
    from grantflow.domain.ui_views import list_query, ui_link

    settings = Settings()
    query = list_query(normalize_email(person) if person else None, status)
    return ui_link(settings.temporal_ui_url, settings.temporal_namespace, query)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
