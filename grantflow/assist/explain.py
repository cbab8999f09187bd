"""From a ranked candidate to a complete `Suggestion` the policy allows, with its one-line explanation."""

from __future__ import annotations

from collections.abc import Sequence

from grantflow.assist.ranking import _Scored
from grantflow.assist.suggestion import Suggestion
from grantflow.domain import policy
from grantflow.domain.config import (
    GrantflowConfig,
)
from grantflow.domain.durations import format_duration
from grantflow.domain.models import RequestSpec


def _complete(
    cfg: GrantflowConfig, person: str, s: _Scored, parsed: int | None, justification: str, top: float
) -> Suggestion | None:
    c = s.cand
    items = list(c.items)
    flows = policy.covering_flows(cfg, person, items, c.bundle)
    if not flows:
        return None
    wanted = parsed or c.favorite_duration
    duration = min(wanted, max(f.max_duration for f in flows)) if wanted else flows[0].default_duration
    spec = RequestSpec(
        requester=person,
        grantee=person,
        items=items,
        bundle=c.bundle,
        duration_seconds=duration,
        justification=justification,
        source="assist",
    )
    decision = policy.decide(cfg, spec)
    flow = cfg.flow(decision.flow_id) if decision.allowed else None
    if flow is not None and not wanted and duration != min(flow.default_duration, flow.max_duration):
        spec.duration_seconds = min(flow.default_duration, flow.max_duration)
        decision = policy.decide(cfg, spec)
        flow = cfg.flow(decision.flow_id) if decision.allowed else None
    if flow is None:
        return None
    capped = bool(wanted and wanted > spec.duration_seconds)
    first = items[0]
    sug = Suggestion(
        integration=None if c.bundle else first.integration,
        resource_type=None if c.bundle else first.resource_type,
        resources=[] if c.bundle else [i.resource for i in items],
        permission=None if c.bundle else first.permission,
        bundle=c.bundle,
        items=items,
        duration_seconds=spec.duration_seconds,
        duration_from_text=bool(parsed),
        flow_id=flow.id,
        flow_name=decision.flow_name,
        approvers=decision.approvers,
        approvals_required=decision.approvals_required,
        justification_required=flow.justification_required,
        justification=justification,
        favorite=c.favorite,
        explanation="",
        score=round(max(0.0, min(1.0, s.score / top)), 3),
    )
    sug.explanation = explain(cfg, sug, s.matched, capped)
    return sug


def explain(cfg: GrantflowConfig, s: Suggestion, matched: Sequence[str] = (), capped: bool = False) -> str:
    """One line: what, for how long, through which flow and whom, and why it was picked."""
    if s.bundle:
        b = cfg.bundle(s.bundle)
        what = (
            f"the {b.name or b.id if b else s.bundle} bundle ({len(s.items)} items, read-only)"
            if b and all(i.permission == "read" for i in s.items)
            else f"the {(b.name or b.id) if b else s.bundle} bundle ({len(s.items)} items)"
        )
    else:
        integ = cfg.integration(s.integration or "")
        where = integ.name or integ.id if integ else s.integration
        what = f"{s.permission} on {s.resource_type} {', '.join(s.resources)} ({where})"
    how_long = format_duration(s.duration_seconds) + (" (capped at the flow's maximum)" if capped else "")
    if s.approvals_required == 0:
        who = "approved automatically"
    else:
        shown = ", ".join(s.approvers[:3]) + (" …" if len(s.approvers) > 3 else "")
        who = (
            f"{s.approvals_required} approval from {shown}"
            if s.approvals_required == 1
            else (f"{s.approvals_required} approvals from {shown}")
        )
    why = f"; matches {', '.join(matched[:5])}" if matched else ""
    fav = f" [favorite: {s.favorite}]" if s.favorite else ""
    return f"{what[0].upper()}{what[1:]} for {how_long} via “{s.flow_name}”, {who}{why}{fav}"
