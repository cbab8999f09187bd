"""`grantflow audit`: the audit trail as a table, JSON, JSON lines or CSV (read from DATABASE_URL)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from grantflow.cli.common import CliError, JsonOpt, emit_json, local, print_table, whole_table
from grantflow.domain.durations import DurationError, parse_duration
from grantflow.domain.ids import request_id_from
from grantflow.settings import Settings


def audit(
    request: Annotated[str | None, typer.Option("--request", help="Only this request.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO date/time, or a duration ago (e.g. 7d).")] = None,
    format_: Annotated[str, typer.Option("--format", help="table, json, jsonl or csv")] = "table",
    json_: JsonOpt = False,
) -> None:
    """The audit trail: who asked, who decided, when access was granted and taken away."""
    since_dt = parse_since(since) if since else None
    fmt = "json" if json_ else format_
    if fmt not in ("table", "json", "jsonl", "csv"):
        raise CliError(f'--format: "{fmt}" is not one of table, json, jsonl, csv')
    from sqlalchemy.exc import SQLAlchemyError

    from grantflow.storage import audit_export
    from grantflow.storage.store import Store, StoreError

    try:
        store = Store(Settings().database_url)
        rid = request_id_from(request) if request else None
        events = audit_export.load_events(store, rid, since_dt)
        if rid and not events and store.get_request(rid) is None:
            raise CliError(f"unknown request id {rid}")
        data = b""
        if fmt == "csv":
            data = audit_export.to_csv(events, audit_export.what_by_request(store, events))
        elif fmt == "jsonl":
            data = audit_export.to_jsonl(events)
    except (SQLAlchemyError, StoreError, OSError) as exc:
        raise CliError(f"cannot read the audit trail at DATABASE_URL: {type(exc).__name__}: {exc}", code=1) from None
    if fmt == "json":
        emit_json([audit_export.as_json(e) for e in events])
    elif fmt in ("csv", "jsonl"):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        table = whole_table(
            "at",
            "request",
            "actor",
            "action",
            "outcome",
            "via",
            "verified",
            "reason",
            whole=("at", "request", "actor", "action"),
        )
        for e in events:
            row = (e.actor, e.action, e.outcome, audit_export.via(e), audit_export.verified(e), e.reason)
            table.add_row(local(e.at), e.request_id, *row)
        print_table(table)


def parse_since(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except DurationError:
        raise CliError(f'--since: "{text}" is neither an ISO date nor a duration like 7d') from None


def register(app: typer.Typer) -> None:
    app.command()(audit)
