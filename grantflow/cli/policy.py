"""`grantflow policy who-can` and `grantflow policy simulate`: the policy read backwards, and a config tried
against the recorded requests before it ships. Pure reads: the config file(s) and the request index
(DATABASE_URL); no workflow is touched. The answers come from grantflow/domain/whatif.py."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

import typer
from rich.table import Table

from grantflow.cli.audit import parse_since
from grantflow.cli.common import CliError, JsonOpt, emit_json, out
from grantflow.domain.config import ConfigError, GrantflowConfig, load_config
from grantflow.domain.durations import format_duration
from grantflow.domain.policy import PolicyError
from grantflow.domain.whatif import Outcome, Path, Requester, Resimulated, simulate, who_can
from grantflow.settings import Settings

ConfigOpt = Annotated[
    FilePath | None, typer.Option("--config", help="The config to ask (default: GRANTFLOW_CONFIG or ./grantflow.yml).")
]


def _load(path: FilePath | None) -> GrantflowConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(f"{exc.problems[0]} (run `grantflow config check`)") from None


def _approval(p: Path) -> str:
    if not p.allowed:
        return f"refused: {p.reason}"
    if p.automatic:
        return "automatic"
    text = f"{p.approvals_required} of {', '.join(p.approvers)}"
    if p.oncall_schedule:
        text += f"; automatic when on call for {p.oncall_schedule}"
    for after, people in p.escalation:
        text += f"; after {format_duration(after)} also {', '.join(people) or 'nobody new'}"
    return text


def _path_json(p: Path) -> dict[str, Any]:
    return {
        "up_to": format_duration(p.up_to_seconds),
        "up_to_seconds": p.up_to_seconds,
        "allowed": p.allowed,
        "reason": p.reason,
        "flow_id": p.flow_id,
        "flow_name": p.flow_name,
        "automatic": p.automatic,
        "approvers": list(p.approvers),
        "approvals_required": p.approvals_required,
        "justification_required": p.justification_required,
        "oncall_schedule": p.oncall_schedule,
        "escalation": [{"after_seconds": a, "approvers": list(people)} for a, people in p.escalation],
    }


def _requester_json(r: Requester) -> dict[str, Any]:
    return {
        "person": r.person,
        "permission": r.permission,
        "max_duration": format_duration(r.max_duration_seconds) if r.max_duration_seconds else None,
        "max_duration_seconds": r.max_duration_seconds,
        "paths": [_path_json(p) for p in r.paths],
    }


def who_can_command(
    integration: Annotated[str, typer.Option("--integration", help="Integration id.")],
    resource_type: Annotated[str, typer.Option("--resource-type", help="Resource type.")],
    resource: Annotated[str, typer.Option("--resource", help="Resource name.")],
    permission: Annotated[str | None, typer.Option("--permission", help="Only this permission.")] = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Who may request a resource (expanded to people), through which flow, approved by whom, for how long."""
    cfg = _load(config)
    try:
        answer = who_can(cfg, integration, resource_type, resource, permission)
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    if json_:
        emit_json(
            {
                "integration": integration,
                "resource_type": resource_type,
                "resource": resource,
                "requesters": [_requester_json(r) for r in answer],
            }
        )
        return
    if not answer:
        out.print(f"nobody may request {integration}/{resource_type}:{resource}")
        return
    table = Table("permission", "person", "up to", "flow", "approval", "justification")
    for r in answer:
        for p in r.paths:
            table.add_row(
                r.permission,
                r.person,
                format_duration(p.up_to_seconds),
                p.flow_id or "—",
                _approval(p),
                "required" if p.justification_required else "—",
            )
    out.print(table)


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "allowed": o.allowed,
        "reason": o.reason,
        "flow_id": o.flow_id,
        "automatic": o.automatic,
        "approvers": list(o.approvers),
        "approvals_required": o.approvals_required,
        "duration_seconds": o.duration_seconds,
    }


def _row_json(r: Resimulated) -> dict[str, Any]:
    return {
        "request_id": r.request_id,
        "requester": r.requester,
        "grantee": r.grantee,
        "items": [i.label() for i in r.items],
        "before": _outcome_json(r.before),
        "after": _outcome_json(r.after),
        "changes": [c.value for c in r.changes],
    }


def _outcome_text(o: Outcome) -> str:
    return o.label() + (f" ({format_duration(o.duration_seconds)})" if o.allowed else "")


def simulate_command(
    new_config: Annotated[FilePath, typer.Argument(metavar="NEW.yml", help="The config to try.")],
    since: Annotated[str, typer.Option(help="ISO date/time, or a duration ago (e.g. 30d).")] = "30d",
    json_: JsonOpt = False,
) -> None:
    """Re-decide every request in the index since then under NEW.yml, next to what actually happened."""
    cfg = _load(new_config)
    since_dt = parse_since(since)
    from sqlalchemy.exc import SQLAlchemyError

    from grantflow.storage.store import Store, StoreError

    try:
        store = Store(Settings().database_url)
        store.create_all()  # a fresh database has no requests yet, not an error
        recorded = store.list_requests(since=since_dt, limit=None)
    except (SQLAlchemyError, StoreError, OSError) as exc:
        first = str(exc).splitlines()[0]
        raise CliError(
            f"cannot read the request index at DATABASE_URL: {type(exc).__name__}: {first}", code=1
        ) from None
    sim = simulate(cfg, reversed(recorded))  # oldest first
    counts = sim.counts()
    if json_:
        emit_json(
            {
                "config": str(new_config),
                "since": since_dt.isoformat(),
                "requests": len(sim.rows),
                "counts": counts,
                "changed": [_row_json(r) for r in sim.changed],
            }
        )
        return
    if sim.changed:
        table = Table("request", "requester", "items", "happened", f"under {new_config.name}", "change")
        for r in sim.changed:
            who = r.requester + (f" for {r.grantee}" if r.grantee != r.requester else "")
            table.add_row(
                r.request_id,
                who,
                "\n".join(i.label() for i in r.items),
                _outcome_text(r.before),
                _outcome_text(r.after),
                ", ".join(c.label for c in r.changes),
            )
        out.print(table)
    summary = Table("change", "requests")
    for kind, n in counts.items():
        summary.add_row(kind.replace("_to_", "→").replace("_", " "), str(n))
    out.print(summary)
    out.print(
        f"{len(sim.rows)} requests since {since_dt.isoformat(timespec='seconds')}, {len(sim.changed)} would change"
    )


def register(app: typer.Typer) -> None:
    policy_app = typer.Typer(help="Ask the access policy: who can, and what if.", no_args_is_help=True)
    policy_app.command("who-can")(who_can_command)
    policy_app.command("simulate")(simulate_command)
    app.add_typer(policy_app, name="policy")
