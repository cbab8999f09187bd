"""Access-flow policy as pure functions.

Two halves:
- `decide` turns (config, request) into a `PolicyDecision` — who may ask, who approves, for how long.
  It runs in an activity so the decision is recorded in workflow history.
- `judge_*` decide whether a signal/update is allowed given the recorded decision and the request's
  state. They are deterministic and import nothing with I/O, so the workflow (and its update
  validators) call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from grantflow.domain.config import (
    AccessFlow,
    AwsIdentityCenterIntegration,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    MysqlIntegration,
    PostgresIntegration,
    ScriptIntegration,
    WebhookIntegration,
)
from grantflow.domain.durations import format_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.models import (
    AccessStatus,
    Escalation,
    ExtensionRules,
    GrantItem,
    PolicyDecision,
    RequestSpec,
)

DEFAULT_PG_PERMISSIONS = ("read", "write", "admin")
# In every refusal of a grantee the flow does not allow: front doors use it to put the error on that field.
GRANTEE_REFUSAL = "may not grant access to"


def normalize_email(email: str) -> str:
    """The comparable form of an address already validated (`grantflow.domain.emails.check_email` validates)."""
    return email.strip().lower()


def is_member(cfg: GrantflowConfig, email: str, principals: Iterable[str]) -> bool:
    return normalize_email(email) in cfg.expand(principals)


def integration_permissions(cfg: GrantflowConfig, integration_id: str, resource_type: str) -> list[str]:
    integ = cfg.integration(integration_id)
    if isinstance(integ, ScriptIntegration | WebhookIntegration):
        rt = next((t for t in integ.resource_types if t.id == resource_type), None)
        return list(rt.permissions) if rt else []
    if isinstance(integ, PostgresIntegration | MysqlIntegration):
        return list(integ.permissions) or list(DEFAULT_PG_PERMISSIONS)
    if isinstance(integ, AwsIdentityCenterIntegration):
        return list(integ.permission_sets) if resource_type in integ.resource_types else []
    return []


def integration_resource_types(cfg: GrantflowConfig, integration_id: str) -> list[str]:
    integ = cfg.integration(integration_id)
    if isinstance(integ, ScriptIntegration | WebhookIntegration):
        return [t.id for t in integ.resource_types]
    if isinstance(integ, PostgresIntegration | MysqlIntegration | AwsIdentityCenterIntegration):
        return list(integ.resource_types)
    return []


def item_problem(cfg: GrantflowConfig, item: GrantItem) -> str | None:
    """Why an item does not exist in the catalog, or None when it does (for discovered catalogs,
    only the type and permission can be checked here)."""
    integ = cfg.integration(item.integration)
    if integ is None:
        known = ", ".join(i.id for i in cfg.integrations) or "none"
        return f'unknown integration "{item.integration}" (known: {known})'
    if isinstance(integ, ScriptIntegration | WebhookIntegration):
        rt = next((t for t in integ.resource_types if t.id == item.resource_type), None)
        if rt is None:
            known = ", ".join(t.id for t in integ.resource_types)
            return f'integration "{integ.id}" has no resource type "{item.resource_type}" (known: {known})'
        if rt.resources and item.resource not in rt.resources:
            known = ", ".join(rt.resources)
            return f'unknown {item.resource_type} "{item.resource}" in "{integ.id}" (known: {known})'
    elif item.resource_type not in integ.resource_types:
        known = ", ".join(integ.resource_types)
        return f'integration "{integ.id}" has no resource type "{item.resource_type}" (known: {known})'
    perms = integration_permissions(cfg, item.integration, item.resource_type)
    if item.permission not in perms:
        return (
            f'unknown permission "{item.permission}" for {item.integration}/{item.resource_type}'
            f" (known: {', '.join(perms)})"
        )
    if not item.resource.strip():
        return "the resource name is empty"
    return None


def _grant_covers(grant: FlowGrant, item: GrantItem) -> bool:
    return (
        grant.integration == item.integration
        and any(fnmatchcase(item.resource_type, p) for p in grant.resource_types)
        and any(fnmatchcase(item.resource, p) for p in grant.resources)
        and any(fnmatchcase(item.permission, p) for p in grant.permissions)
    )


def flow_covers(cfg: GrantflowConfig, flow: AccessFlow, item: GrantItem, bundle: str | None) -> bool:
    for g in flow.grants:
        if isinstance(g, FlowGrant) and _grant_covers(g, item):
            return True
        if isinstance(g, FlowBundleGrant) and (bundle is None or g.bundle == bundle):
            b = cfg.bundle(g.bundle)
            if b is not None and any(
                (bi.integration, bi.resource_type, bi.resource, bi.permission)
                == (item.integration, item.resource_type, item.resource, item.permission)
                for bi in b.items
            ):
                return True
    return False


def flows_for(cfg: GrantflowConfig, requester: str) -> list[AccessFlow]:
    return [f for f in cfg.access_flows if is_member(cfg, requester, f.requestors)]


def covering_flows(
    cfg: GrantflowConfig,
    requester: str,
    items: Iterable[GrantItem],
    bundle: str | None = None,
    grantee: str | None = None,
) -> list[AccessFlow]:
    """The requester's flows that cover every item (under `bundle`, when given), in config order; with a
    `grantee`, only those that may also grant it to that person."""
    wanted = list(items)
    return [
        f
        for f in flows_for(cfg, requester)
        if all(flow_covers(cfg, f, i, bundle) for i in wanted)
        and (grantee is None or grantee_allowed(cfg, f, requester, grantee))
    ]


def bundle_items(cfg: GrantflowConfig, bundle_id: str, resources: Iterable[str] = ()) -> list[GrantItem]:
    """The items of a bundle, optionally narrowed to some of its resources."""
    b = cfg.bundle(bundle_id)
    if b is None:
        raise PolicyError(f'unknown bundle "{bundle_id}" (known: {", ".join(x.id for x in cfg.bundles)})')
    chosen = set(resources)
    items = [
        GrantItem(
            integration=i.integration, resource_type=i.resource_type, resource=i.resource, permission=i.permission
        )
        for i in b.items
        if not chosen or i.resource in chosen
    ]
    unknown = chosen - {i.resource for i in b.items}
    if unknown:
        raise PolicyError(f'bundle "{bundle_id}" has no resource {", ".join(sorted(unknown))}')
    return items


class PolicyError(ValueError):
    """A request the policy refuses; the message is meant for the person who asked."""


@dataclass(frozen=True)
class _Candidate:
    flow: AccessFlow
    approvers: list[str]


def decide(cfg: GrantflowConfig, spec: RequestSpec) -> PolicyDecision:
    """Decide a request. Never raises: a refusal is a decision with `allowed=False` and a reason."""
    try:
        return _decide(cfg, spec)
    except PolicyError as exc:
        return PolicyDecision(allowed=False, reason=str(exc))


def _decide(cfg: GrantflowConfig, spec: RequestSpec) -> PolicyDecision:
    try:
        requester = check_email(spec.requester)
        grantee = check_email(spec.grantee)
    except BadEmail as exc:
        raise PolicyError(f"requester and grantee must be email addresses: {exc}") from None
    if not spec.items:
        raise PolicyError("nothing requested: name at least one resource")
    if len(set(spec.items)) != len(spec.items):
        raise PolicyError("the same item is requested twice")
    for item in spec.items:
        problem = item_problem(cfg, item)
        if problem:
            raise PolicyError(problem)
    if spec.bundle is not None:
        b = cfg.bundle(spec.bundle)
        if b is None:
            raise PolicyError(f'unknown bundle "{spec.bundle}"')
        inside = {(i.integration, i.resource_type, i.resource, i.permission) for i in b.items}
        if any((i.integration, i.resource_type, i.resource, i.permission) not in inside for i in spec.items):
            raise PolicyError(f'an item requested under bundle "{spec.bundle}" is not part of it')
    flows = flows_for(cfg, requester)
    if not flows:
        raise PolicyError(f"{requester} is not a requestor in any access flow")
    covering = covering_flows(cfg, requester, spec.items, spec.bundle)
    if not covering:
        if len(spec.items) == 1:
            raise PolicyError(f"no access flow lets {requester} request {spec.items[0].label()}")
        raise PolicyError(f"no single access flow lets {requester} request all of these items")
    covering = _for_grantee(cfg, covering, requester, grantee)
    if spec.duration_seconds <= 0:
        raise PolicyError("the duration must be positive")
    fitting = [f for f in covering if spec.duration_seconds <= f.max_duration]
    if not fitting:
        longest = max(f.max_duration for f in covering)
        raise PolicyError(
            f"duration {format_duration(spec.duration_seconds)} is over the flow's maximum of "
            f"{format_duration(longest)}"
        )
    candidates = [_Candidate(f, [a for a in cfg.expand(f.approvers) if a not in (requester, grantee)]) for f in fitting]
    viable = [c for c in candidates if len(c.approvers) >= c.flow.approvals_required]
    if not viable:
        raise PolicyError("nobody but you could approve this request: ask an admin to add approvers")
    with_just = [c for c in viable if not c.flow.justification_required or spec.justification.strip()]
    if not with_just:
        raise PolicyError("a justification is required")
    # Prefer the flow needing the fewest approvals, then config order (stable).
    chosen = min(with_just, key=lambda c: c.flow.approvals_required)
    flow = chosen.flow
    ext = flow.extension
    return PolicyDecision(
        allowed=True,
        flow_id=flow.id,
        flow_name=flow.name or flow.id,
        approvers=chosen.approvers,
        approvals_required=flow.approvals_required,
        approval_channel=flow.approval_channel,
        approval_reminder_seconds=flow.approval_reminder,
        max_duration_seconds=flow.max_duration,
        duration_seconds=spec.duration_seconds,
        extension=ExtensionRules(
            enabled=ext.enabled,
            max_extensions=ext.max_extensions if ext.enabled else 0,
            duration_seconds=ext.duration,
            notify_before_seconds=ext.notify_before,
        ),
        admins=cfg.expand(cfg.admins),
        escalation=_escalation(cfg, flow, chosen.approvers, (requester, grantee)),
        oncall_schedule=flow.auto_approve_if_oncall,
        max_schedule_ahead_seconds=flow.max_schedule_ahead,
        decisions=flow.decisions or cfg.decisions,
    )


def _escalation(cfg: GrantflowConfig, flow: AccessFlow, approvers: list[str], own: tuple[str, str]) -> list[Escalation]:
    """The flow's escalation steps as people each step adds (never the requester or grantee, never twice)."""
    steps: list[Escalation] = []
    known = set(approvers) | set(own)
    for step in flow.escalation:
        added = [a for a in cfg.expand(step.approvers) if a not in known]
        known.update(added)
        steps.append(Escalation(after_seconds=step.after, approvers=added, notify=step.notify))
    return steps


def judge_start(decision: PolicyDecision, spec: RequestSpec, now: datetime) -> str | None:
    """None when the requested start time is acceptable at `now`, else why not (front doors and workflow)."""
    if spec.start_at is None:
        return None
    start = spec.start_at if spec.start_at.tzinfo else spec.start_at.replace(tzinfo=UTC)
    if start <= now:
        return f"the start time {start:%Y-%m-%d %H:%M} UTC is in the past"
    ahead = decision.max_schedule_ahead_seconds
    if (start - now).total_seconds() > ahead:
        return (
            f"the start time {start:%Y-%m-%d %H:%M} UTC is more than {format_duration(ahead)} ahead "
            f"(max_schedule_ahead of {decision.flow_name or decision.flow_id})"
        )
    return None


def still_eligible(cfg: GrantflowConfig, flow_id: str, spec: RequestSpec) -> str | None:
    """At a scheduled start: None when the recorded flow still lets this requester ask for this grantee
    (by the config of now), else why not."""
    flow = cfg.flow(flow_id)
    if flow is None:
        return f'the access flow "{flow_id}" no longer exists'
    requester, grantee = normalize_email(spec.requester), normalize_email(spec.grantee)
    if requester not in cfg.expand(flow.requestors):
        return f'{requester} is no longer a requestor of "{flow.name or flow.id}"'
    if not grantee_allowed(cfg, flow, requester, grantee):
        return f'{grantee} may no longer be granted access through "{flow.name or flow.id}"'
    return None


def grantee_allowed(cfg: GrantflowConfig, flow: AccessFlow, requester: str, grantee: str) -> bool:
    """A flow lets its requestors ask for themselves, for another of its requestors, or for one of its
    `grantees`: anyone else would receive access no one in the flow was meant to give them."""
    who = normalize_email(grantee)
    return (
        who == normalize_email(requester) or is_member(cfg, who, flow.requestors) or is_member(cfg, who, flow.grantees)
    )


def _for_grantee(cfg: GrantflowConfig, flows: list[AccessFlow], requester: str, grantee: str) -> list[AccessFlow]:
    allowed = [f for f in flows if grantee_allowed(cfg, f, requester, grantee)]
    if not allowed:
        names = ", ".join(f'"{f.name or f.id}"' for f in flows)
        if len(flows) == 1:
            raise PolicyError(
                f"access flow {names} {GRANTEE_REFUSAL} {grantee}: {grantee} is neither a requestor of it "
                "nor listed in its grantees"
            )
        raise PolicyError(
            f"access flows {names} {GRANTEE_REFUSAL} {grantee}: {grantee} is neither a requestor of any of "
            "them nor listed in their grantees"
        )
    return allowed


# --- judgements on signals and updates (deterministic; used inside the workflow) ----------------------


def judge_approve(
    decision: PolicyDecision,
    spec: RequestSpec,
    status: AccessStatus,
    already_approved: Iterable[str],
    approver: str,
    break_glass: bool = False,
    reason: str = "",
) -> str | None:
    """None when the approval counts, else why it is refused."""
    who = normalize_email(approver)
    if status != AccessStatus.PENDING_APPROVAL:
        return f"the request is {status.value}, not pending approval"
    # Before break-glass: an admin's own request still needs someone else.
    if who in (normalize_email(spec.requester), normalize_email(spec.grantee)):
        return "you cannot approve your own request"
    if break_glass:
        if who not in decision.admins:
            return f"{who} is not an admin: break-glass approval is for admins only"
        if not reason.strip():
            return "a break-glass approval needs a reason"
        return None
    if who not in decision.approvers:
        return f"{who} is not an approver for this flow"
    if who in {normalize_email(a) for a in already_approved}:
        return f"{who} has already approved this request"
    return None


def judge_reject(decision: PolicyDecision, spec: RequestSpec, status: AccessStatus, approver: str) -> str | None:
    who = normalize_email(approver)
    if status != AccessStatus.PENDING_APPROVAL:
        return f"the request is {status.value}, not pending approval"
    if who in decision.admins:
        return None
    if who in (normalize_email(spec.requester), normalize_email(spec.grantee)):
        return "you cannot reject your own request: revoke it instead"
    if who not in decision.approvers:
        return f"{who} is not an approver for this flow"
    return None


def judge_extend(
    decision: PolicyDecision, spec: RequestSpec, status: AccessStatus, extensions_used: int, actor: str
) -> str | None:
    who = normalize_email(actor)
    if status != AccessStatus.ACTIVE:
        return f"the request is {status.value}, not ACTIVE"
    if who not in (normalize_email(spec.requester), normalize_email(spec.grantee), *decision.admins):
        return f"{who} may not extend this request (only the requester, the grantee or an admin)"
    if not decision.extension.enabled:
        return "the access flow does not allow extensions"
    if extensions_used >= decision.extension.max_extensions:
        return f"the extension limit ({decision.extension.max_extensions}) is reached"
    return None


def judge_revoke(decision: PolicyDecision, spec: RequestSpec, status: AccessStatus, actor: str) -> str | None:
    who = normalize_email(actor)
    if status.is_final or status == AccessStatus.REVOKING:
        return f"the request is already {status.value}"
    allowed = {normalize_email(spec.requester), normalize_email(spec.grantee), *decision.admins}
    allowed.update(decision.approvers)
    if who not in allowed:
        return f"{who} may not revoke this request (only the requester, the grantee, an approver or an admin)"
    return None
