"""`grantflow request|approve|reject|extend|revoke|status|details|list`: one request's lifecycle."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.table import Table

from grantflow.cli.common import AsOpt, CliError, JsonOpt, emit_json, list_link, local, out, print_status, run
from grantflow.client import GrantflowClient
from grantflow.domain.models import FINAL_STATUSES, AccessStatus, StatusView


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
        )
        view = None
        if wait:
            view = await c.wait_for(sub.request_id, {AccessStatus.ACTIVE, *FINAL_STATUSES}, timeout=120)
        return sub.request_id, sub.workflow_id, view

    rid, wid, view = run(go)
    if json_:
        emit_json({"request_id": rid, "workflow_id": wid})
        return
    out.print(f"Request [bold]{rid}[/bold] submitted (workflow {wid}).")
    if view is not None:
        print_status(view)
    else:
        out.print(f"Follow it with: grantflow status {rid}")


def _decision(fn: Callable[[GrantflowClient], Awaitable[StatusView]], verb: str, json_: bool = False) -> None:
    view = run(fn)
    if json_:
        emit_json(view.model_dump(mode="json"))
        return
    out.print(
        f"{verb}: {view.request_id} is {view.status.value}"
        + (
            f" ({len(view.approvals)}/{view.approvals_required} approvals)"
            if view.status.value == "PENDING_APPROVAL"
            else ""
        )
    )


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


def reject(request_id: str, as_: AsOpt, reason: Annotated[str, typer.Option()] = "", json_: JsonOpt = False) -> None:
    """Reject a pending request."""
    _decision(lambda c: c.reject(request_id, as_, reason), "Rejected", json_)


def extend(request_id: str, as_: AsOpt, json_: JsonOpt = False) -> None:
    """Extend active access by the flow's extension duration."""
    view = run(lambda c: c.extend(request_id, as_))
    if json_:
        emit_json(view.model_dump(mode="json"))
        return
    out.print(
        f"Extended: {view.request_id} now expires {local(view.expires_at)} "
        f"({view.extensions_used}/{view.max_extensions} extensions used)"
    )


def revoke(request_id: str, as_: AsOpt, reason: Annotated[str, typer.Option()] = "", json_: JsonOpt = False) -> None:
    """Revoke access now (or withdraw a pending request)."""
    _decision(lambda c: c.revoke(request_id, as_, reason), "Revoking", json_)


def status(request_id: str, json_: JsonOpt = False) -> None:
    """Show one request (the workflow's `status` query)."""
    view = run(lambda c: c.status(request_id))
    if json_:
        emit_json(view.model_dump(mode="json"))
    else:
        print_status(view)


def details(request_id: str, as_: AsOpt, json_: JsonOpt = False) -> None:
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
    table = Table("id", "status", "requester", "grantee", "what", "expires")
    for v in views:
        table.add_row(
            v.request_id,
            v.status.value,
            v.requester,
            v.grantee,
            "; ".join(g.label() for g in v.grants),
            local(v.expires_at),
        )
    out.print(table)
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
