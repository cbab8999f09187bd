"""`grantflow request|approve|reject|extend|revoke|status|details|list`: one request's lifecycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from grantflow.cli.common import (
    AsOpt,
    CliError,
    IdArg,
    JsonOpt,
    emit_json,
    list_link,
    local,
    out,
    print_status,
    print_table,
    run,
    whole_table,
)
from grantflow.client import GrantflowClient, Submitted
from grantflow.domain.models import FINAL_STATUSES, AccessStatus, StatusView


def request(
    as_: AsOpt,
    duration: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="How long, e.g. 30m, 1h, 1h30m (default: the flow's default)."),
    ] = None,
    justification: Annotated[str, typer.Option(metavar="TEXT", help="Why you need it.")] = "",
    for_: Annotated[
        str | None, typer.Option("--for", metavar="EMAIL", help="Request on behalf of this person.")
    ] = None,
    integration: Annotated[
        str | None, typer.Option(metavar="ID", help="The integration's id in the config, e.g. demo-postgres.")
    ] = None,
    resource_type: Annotated[
        str | None,
        typer.Option(
            "--resource-type", metavar="TYPE", help="What kind of resource: database, schema, table, folder..."
        ),
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="What to access; repeat for several. PostgreSQL: DATABASE, DATABASE.SCHEMA, DATABASE.TABLE or "
            "DATABASE.SCHEMA.TABLE. Checked against what the integration has.",
        ),
    ] = None,
    permission: Annotated[
        str | None, typer.Option(metavar="PERMISSION", help="A permission the integration defines, e.g. read.")
    ] = None,
    bundle: Annotated[
        str | None, typer.Option(metavar="ID", help="Request a bundle (optionally narrowed by --resource).")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", metavar="KEY", help="Same key, same request.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until it is ACTIVE or ended (automatic approvals).")] = False,
    start_at: Annotated[
        str | None,
        typer.Option(
            "--start-at",
            metavar="TIME",
            help="Begin access later: an ISO time (UTC unless it says otherwise, e.g. 2026-12-24T09:00) or +2h. "
            "Approval can come before it; the duration counts from the start.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Ask for temporary access.

    \b
    Examples:
      grantflow request --as alice@example.com --integration demo-postgres \\
        --resource-type table --resource orders.public.orders --permission read \\
        --duration 1h --justification "debugging INC-42"
      grantflow request --as alice@example.com --bundle oncall-debug --duration 2h \\
        --justification "on call tonight"
    """

    async def go(c: GrantflowClient) -> tuple[Submitted, StatusView | None]:
        sub = await c.request(
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
            idempotency_key=idempotency_key,
            start_at=start_at,
        )
        view = None
        if wait:
            view = await c.wait_for(sub.request_id, {AccessStatus.ACTIVE, *FINAL_STATUSES}, timeout=120)
        return sub, view

    sub, view = run(go)
    if json_:
        emit_json(sub.as_json())
        return
    out.print(f"Request [bold]{sub.request_id}[/bold] submitted (workflow {sub.workflow_id}).")
    for note in sub.notes:
        out.print(f"Note: {note}")
    if view is not None:
        print_status(view)
    else:
        out.print(f"Follow it with: grantflow status {sub.request_id}")


# What a decision moves a request out of: the CLI waits (bounded) until the request has left these states,
# so that it prints the state after the decision took effect.
_SETTLING = {
    "approve": {AccessStatus.PENDING_APPROVAL, AccessStatus.GRANTING},
    "reject": {AccessStatus.PENDING_APPROVAL},
    "revoke": {AccessStatus.PENDING_APPROVAL, AccessStatus.GRANTING, AccessStatus.ACTIVE, AccessStatus.REVOKING},
}


def _decision(fn: Callable[[GrantflowClient], Awaitable[StatusView]], verb: str, json_: bool = False) -> None:
    """Print the request as the decision left it; exit 1 when it ended FAILED."""
    view = run(fn)
    if json_:
        emit_json(view.model_dump(mode="json"))
    else:
        line = f"{verb}: {view.request_id} is {view.status.value}"
        if view.status == AccessStatus.PENDING_APPROVAL:
            line += f" ({len(view.approvals)}/{view.approvals_required} approvals)"
        elif view.status == AccessStatus.ACTIVE and view.expires_at is not None:
            line += f" until {local(view.expires_at)}"
        elif view.status_reason:
            line += f" ({view.status_reason})"
        out.print(line)
    if view.status == AccessStatus.FAILED:
        raise typer.Exit(1)


def approve(
    request_id: IdArg,
    as_: AsOpt,
    comment: Annotated[str, typer.Option(metavar="TEXT", help="A note for the audit trail.")] = "",
    break_glass: Annotated[bool, typer.Option("--break-glass", help="Admins only; needs --reason.")] = False,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why (required with --break-glass).")] = "",
    json_: JsonOpt = False,
) -> None:
    """Approve a pending request; prints where it went (ACTIVE, or FAILED with exit code 1)."""
    if break_glass and not reason.strip():
        raise CliError("--break-glass needs --reason")

    async def go(c: GrantflowClient) -> StatusView:
        view = await c.approve(request_id, as_, comment, break_glass=break_glass, reason=reason)
        if len(view.approvals) >= view.approvals_required or break_glass:
            view = await c.settle(view, _SETTLING["approve"])
        return view

    _decision(go, "Approved", json_)


def reject(
    request_id: IdArg,
    as_: AsOpt,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why, for the requester.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Reject a pending request."""

    async def go(c: GrantflowClient) -> StatusView:
        return await c.settle(await c.reject(request_id, as_, reason), _SETTLING["reject"])

    _decision(go, "Rejected", json_)


def extend(request_id: IdArg, as_: AsOpt, json_: JsonOpt = False) -> None:
    """Extend active access by the flow's extension duration."""
    view = run(lambda c: c.extend(request_id, as_))
    if json_:
        emit_json(view.model_dump(mode="json"))
        return
    out.print(
        f"Extended: {view.request_id} now expires {local(view.expires_at)} "
        f"({view.extensions_used}/{view.max_extensions} extensions used)"
    )


def revoke(
    request_id: IdArg,
    as_: AsOpt,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why, for the audit trail.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Revoke access now (or withdraw a pending request); prints REVOKED (or REVOKING while it is under way)."""

    async def go(c: GrantflowClient) -> StatusView:
        return await c.settle(await c.revoke(request_id, as_, reason), _SETTLING["revoke"])

    _decision(go, "Revoked", json_)


def status(request_id: IdArg, json_: JsonOpt = False) -> None:
    """Show one request (the workflow's `status` query)."""
    view = run(lambda c: c.status(request_id))
    if json_:
        emit_json(view.model_dump(mode="json"))
    else:
        print_status(view)


def details(request_id: IdArg, as_: AsOpt, json_: JsonOpt = False) -> None:
    """Show how to use granted access (credentials included): for the grantee only."""
    found = run(lambda c: c.details(request_id, as_))
    if json_:
        emit_json(found)
        return
    for label, info in found.items():
        out.print(f"[bold]{label}[/bold]")
        for k, v in info.items():
            out.print(f"  {k:<10} {v}")


def list_(
    as_: Annotated[str | None, typer.Option("--as", help="Only requests by or for this person.")] = None,
    status_: Annotated[str | None, typer.Option("--status", help="e.g. ACTIVE")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 200,
    json_: JsonOpt = False,
) -> None:
    """List requests from the request index."""
    views = run(lambda c: c.list_requests(person=as_, status=status_, limit=limit))
    if json_:
        emit_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        out.print("No requests.")
        return
    table = whole_table(
        "id", "status", "requester", "grantee", "what", "expires", whole=("id", "status", "requester", "grantee")
    )
    for v in views:
        table.add_row(
            v.request_id,
            v.status.value,
            v.requester,
            v.grantee,
            "; ".join(g.label() for g in v.grants),
            local(v.expires_at),
        )
    print_table(table)
    out.print(f"Web UI: {list_link(as_, status_)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(request)
    app.command()(approve)
    app.command()(reject)
    app.command()(extend)
    app.command()(revoke)
    app.command()(status)
    app.command()(details)
    app.command("list")(list_)
