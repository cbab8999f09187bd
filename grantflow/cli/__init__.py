"""`grantflow` — the command line front door: a thin layer over grantflow.client.

Exit codes: 0 success, 2 bad input or a refusal (one line on stderr), 1 when a service is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from grantflow.client import BadRequest, GrantflowClient, GrantflowError, NotFound, Refused
from grantflow.domain.config import ConfigError, load_config
from grantflow.domain.durations import DurationError, format_duration, parse_duration
from grantflow.domain.models import FINAL_STATUSES, AccessStatus, StatusView
from grantflow.settings import Settings
from grantflow.temporal import TemporalUnavailable

try:  # typer >= 0.16 vendors click; its exceptions are what it raises
    from typer._click import exceptions as _click_exceptions  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - older typer uses the click package
    from click import exceptions as _click_exceptions  # type: ignore[no-redef,unused-ignore]

app = typer.Typer(
    name="grantflow",
    help="Just-in-time access requests on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
config_app = typer.Typer(help="Check the access-flow configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")

AsOpt = Annotated[str, typer.Option("--as", help="Who you are (email).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class CliError(Exception):
    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _run(fn: Callable[[GrantflowClient], Awaitable[T]]) -> T:
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
        raise CliError(str(exc).splitlines()[0] + " (run `grantflow config check`)") from None
    except GrantflowError as exc:
        raise CliError(str(exc)) from None


def _local(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return dt.astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _print_status(v: StatusView) -> None:
    out.print(f"[bold]{v.request_id}[/bold]  {v.status.value}" + (f"  ({v.status_reason})" if v.status_reason else ""))
    out.print(f"  requester   {v.requester}" + (f"  for {v.grantee}" if v.grantee != v.requester else ""))
    for g in v.grants:
        out.print(f"  grant       {g.label()}")
    out.print(f"  flow        {v.flow_name or v.flow_id or '—'}")
    approvals = ", ".join(a.approver + (" (break-glass)" if a.break_glass else "") for a in v.approvals) or "none"
    out.print(f"  approvals   {len(v.approvals)}/{v.approvals_required}: {approvals}")
    out.print(f"  duration    {format_duration(v.duration_seconds)}")
    out.print(f"  expires     {_local(v.expires_at)}")
    if v.extension_enabled:
        out.print(f"  extensions  {v.extensions_used}/{v.max_extensions}")


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# --- requests ------------------------------------------------------------------------------------------


@app.command()
def request(
    as_: AsOpt,
    duration: Annotated[str | None, typer.Option(help="e.g. 30m, 1h, 1h30m (default: the flow's default).")] = None,
    justification: Annotated[str, typer.Option(help="Why you need it.")] = "",
    for_: Annotated[str | None, typer.Option("--for", help="Request on behalf of this person.")] = None,
    integration: Annotated[str | None, typer.Option()] = None,
    resource_type: Annotated[str | None, typer.Option("--resource-type")] = None,
    resource: Annotated[list[str] | None, typer.Option(help="Repeat for several resources.")] = None,
    permission: Annotated[str | None, typer.Option()] = None,
    bundle: Annotated[str | None, typer.Option(help="Request a bundle (optionally narrowed by --resource).")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Same key, same request.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until it is ACTIVE or ended (automatic approvals).")] = False,
    json_: JsonOpt = False,
) -> None:
    """Ask for temporary access."""

    async def go(c: GrantflowClient) -> tuple[str, str, StatusView | None]:
        try:
            spec = c.build_spec(
                requester=as_,
                grantee=for_,
                integration=integration,
                resource_type=resource_type,
                resources=resource or [],
                permission=permission,
                bundle=bundle,
                duration=duration,
                justification=justification,
                source="cli",
            )
        except Refused as exc:
            await c.record_refusal(as_, "request", str(exc))
            raise
        sub = await c.submit(spec, idempotency_key)
        view = None
        if wait:

            view = await c.wait_for(sub.request_id, {AccessStatus.ACTIVE, *FINAL_STATUSES}, timeout=120)
        return sub.request_id, sub.workflow_id, view

    rid, wid, view = _run(go)
    if json_:
        _emit_json({"request_id": rid, "workflow_id": wid})
        return
    out.print(f"Request [bold]{rid}[/bold] submitted (workflow {wid}).")
    if view is not None:
        _print_status(view)
    else:
        out.print(f"Follow it with: grantflow status {rid}")


def _decision(fn: Callable[[GrantflowClient], Awaitable[StatusView]], verb: str, json_: bool = False) -> None:
    view = _run(fn)
    if json_:
        _emit_json(view.model_dump(mode="json"))
        return
    out.print(
        f"{verb}: {view.request_id} is {view.status.value}"
        + (
            f" ({len(view.approvals)}/{view.approvals_required} approvals)"
            if view.status.value == "PENDING_APPROVAL"
            else ""
        )
    )


@app.command()
def approve(
    request_id: str,
    as_: AsOpt,
    comment: Annotated[str, typer.Option()] = "",
    break_glass: Annotated[bool, typer.Option("--break-glass", help="Admins only; needs --reason.")] = False,
    reason: Annotated[str, typer.Option()] = "",
    json_: JsonOpt = False,
) -> None:
    """Approve a pending request."""
    if break_glass and not reason.strip():
        raise CliError("--break-glass needs --reason")
    async def go(c: GrantflowClient) -> StatusView:
        view = await c.approve(request_id, as_, comment, break_glass=break_glass, reason=reason)
        if len(view.approvals) >= view.approvals_required or break_glass:
            # Enough approvals: show where it went (GRANTING/ACTIVE) rather than the stale PENDING_APPROVAL.
            view = await c.wait_for(view.request_id, {AccessStatus.ACTIVE, *FINAL_STATUSES}, timeout=10)
        return view

    _decision(go, "Approved", json_)


@app.command()
def reject(request_id: str, as_: AsOpt, reason: Annotated[str, typer.Option()] = "", json_: JsonOpt = False) -> None:
    """Reject a pending request."""
    _decision(lambda c: c.reject(request_id, as_, reason), "Rejected", json_)


@app.command()
def extend(request_id: str, as_: AsOpt, json_: JsonOpt = False) -> None:
    """Extend active access by the flow's extension duration."""
    view = _run(lambda c: c.extend(request_id, as_))
    if json_:
        _emit_json(view.model_dump(mode="json"))
        return
    out.print(
        f"Extended: {view.request_id} now expires {_local(view.expires_at)} "
        f"({view.extensions_used}/{view.max_extensions} extensions used)"
    )


@app.command()
def revoke(request_id: str, as_: AsOpt, reason: Annotated[str, typer.Option()] = "", json_: JsonOpt = False) -> None:
    """Revoke access now (or withdraw a pending request)."""
    _decision(lambda c: c.revoke(request_id, as_, reason), "Revoking", json_)


@app.command()
def status(request_id: str, json_: JsonOpt = False) -> None:
    """Show one request (the workflow's `status` query)."""
    view = _run(lambda c: c.status(request_id))
    if json_:
        _emit_json(view.model_dump(mode="json"))
    else:
        _print_status(view)


@app.command()
def details(request_id: str, as_: AsOpt, json_: JsonOpt = False) -> None:
    """Show how to use granted access (credentials included): for the grantee only."""
    found = _run(lambda c: c.details(request_id, as_))
    if json_:
        _emit_json(found)
        return
    for label, info in found.items():
        out.print(f"[bold]{label}[/bold]")
        for k, v in info.items():
            out.print(f"  {k:<10} {v}")


@app.command("list")
def list_(
    as_: Annotated[str | None, typer.Option("--as", help="Only requests by or for this person.")] = None,
    status_: Annotated[str | None, typer.Option("--status", help="e.g. ACTIVE")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 200,
    json_: JsonOpt = False,
) -> None:
    """List requests from the request index."""
    views = _run(lambda c: c.list_requests(person=as_, status=status_, limit=limit))
    if json_:
        _emit_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        out.print("No requests.")
        return
    table = Table("id", "status", "requester", "grantee", "what", "expires")
    for v in views:
        table.add_row(
            v.request_id,
            v.status.value,
            v.requester,
            v.grantee,
            "; ".join(g.label() for g in v.grants),
            _local(v.expires_at),
        )
    out.print(table)


@app.command()
def audit(
    request: Annotated[str | None, typer.Option("--request", help="Only this request.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO date/time, or a duration ago (e.g. 7d).")] = None,
    format_: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv")] = "table",
    json_: JsonOpt = False,
) -> None:
    """The audit trail: who asked, who decided, when access was granted and taken away."""
    since_dt = _parse_since(since) if since else None
    fmt = "json" if json_ else format_
    if fmt not in ("table", "json", "jsonl", "csv"):
        raise CliError(f'--format: "{fmt}" is not one of table, json, jsonl, csv')
    from sqlalchemy.exc import SQLAlchemyError

    from grantflow.client import request_id_from
    from grantflow.storage import audit_export
    from grantflow.storage.store import Store, StoreError

    try:
        store = Store(Settings().database_url)
        events = audit_export.load_events(store, request_id_from(request) if request else None, since_dt)
        data = b""
        if fmt == "csv":
            data = audit_export.to_csv(events, audit_export.what_by_request(store, events))
        elif fmt == "jsonl":
            data = audit_export.to_jsonl(events)
    except (SQLAlchemyError, StoreError, OSError) as exc:
        raise CliError(f"cannot read the audit trail at DATABASE_URL: {type(exc).__name__}: {exc}", code=1) from None
    if fmt == "json":
        _emit_json([e.model_dump(mode="json") for e in events])
    elif fmt in ("csv", "jsonl"):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        table = Table("at", "request", "actor", "action", "outcome", "reason")
        for e in events:
            table.add_row(_local(e.at), e.request_id, e.actor, e.action, e.outcome, e.reason)
        out.print(table)


def _parse_since(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        from datetime import timedelta

        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except DurationError:
        raise CliError(f'--since: "{text}" is neither an ISO date nor a duration like 7d') from None


# --- config and processes ---------------------------------------------------------------------------------


@config_app.command("check")
def config_check(
    file: Annotated[Path | None, typer.Argument(help="Default: GRANTFLOW_CONFIG or ./grantflow.yml")] = None,
) -> None:
    """Validate a config file; print every problem with its line."""
    try:
        cfg = load_config(file)
    except ConfigError as exc:
        for p in exc.problems:
            sys.stderr.write(p + "\n")
        raise typer.Exit(2) from None
    out.print(
        f"OK: {len(cfg.integrations)} integrations, {len(cfg.bundles)} bundles, "
        f"{len(cfg.access_flows)} access flows, {len(cfg.groups)} groups"
    )


@app.command()
def worker() -> None:
    """Run the worker (workflows and activities) until Ctrl-C."""
    from worker import run_worker

    asyncio.run(run_worker(Settings()))


@app.command()
def dev(
    no_slack: Annotated[bool, typer.Option("--no-slack", help="Do not start the Slack app.")] = False,
    no_postgres: Annotated[bool, typer.Option("--no-postgres", help="Do not start the demo PostgreSQL.")] = False,
) -> None:
    """Run the whole stack locally: Temporal dev server, demo PostgreSQL, worker, Slack app."""
    from grantflow.dev.launcher import run_dev

    raise typer.Exit(run_dev(slack=not no_slack, postgres=not no_postgres))


from grantflow.cli.ops import register as _register_operator_commands  # noqa: E402

_register_operator_commands(app)
from grantflow.cli import assist as _cli_assist  # noqa: E402

app.command("assist")(_cli_assist.assist)
app.command("mcp")(_cli_assist.mcp)


app.command("slack")(__import__("slack_app.cli", fromlist=["slack"]).slack)


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
