"""What the request forms may offer a requester: only what one of their access flows allows.

Pure functions of the config, so the modals never offer a choice the policy would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from grantflow.domain import policy
from grantflow.domain.config import (
    AccessFlow,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    PostgresIntegration,
    ScriptIntegration,
)
from grantflow.domain.durations import format_duration

STANDARD_DURATIONS = (900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600)
# Above this many resources a static menu gets unwieldy (and Slack caps one at 100 options): type-ahead instead.
TYPE_AHEAD_THRESHOLD = 50


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class FormChoices:
    integrations: list[Choice] = field(default_factory=list)
    resource_types: list[Choice] = field(default_factory=list)
    # None: too many or discovered at the target, so the form asks with type-ahead (block_suggestion).
    resources: list[Choice] | None = None
    permissions: list[Choice] = field(default_factory=list)
    durations: list[Choice] = field(default_factory=list)
    default_duration: str = "3600"
    justification_required: bool = True


def _grants(flows: list[AccessFlow], integration: str | None = None) -> list[FlowGrant]:
    return [
        g
        for f in flows
        for g in f.grants
        if isinstance(g, FlowGrant) and (integration is None or g.integration == integration)
    ]


def _types_of(integ: ScriptIntegration | PostgresIntegration) -> list[str]:
    if isinstance(integ, ScriptIntegration):
        return [t.id for t in integ.resource_types]
    return list(integ.resource_types)


def _matches(value: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def known_resources(cfg: GrantflowConfig, requester: str, integration: str, resource_type: str) -> list[str] | None:
    """The resources the requester may ask for, or None when the catalog is discovered at the target."""
    integ = cfg.integration(integration)
    grants = [
        g for g in _grants(policy.flows_for(cfg, requester), integration) if _matches(resource_type, g.resource_types)
    ]
    if not grants or integ is None:
        return []
    if isinstance(integ, ScriptIntegration):
        rt = next((t for t in integ.resource_types if t.id == resource_type), None)
        if rt is None or not rt.resources:
            return None
        return [r for r in rt.resources if any(_matches(r, g.resources) for g in grants)]
    literal = sorted({p for g in grants for p in g.resources if not any(c in p for c in "*?[")})
    wildcard = any(any(c in p for c in "*?[") for g in grants for p in g.resources)
    return None if wildcard else literal


def suggest_resources(
    cfg: GrantflowConfig, requester: str, integration: str, resource_type: str, typed: str, limit: int = 100
) -> list[Choice]:
    """Type-ahead: known names containing what was typed; for discovered catalogs, the typed name itself."""
    typed = typed.strip()
    known = known_resources(cfg, requester, integration, resource_type)
    if known is None:
        grants = [
            g
            for g in _grants(policy.flows_for(cfg, requester), integration)
            if _matches(resource_type, g.resource_types)
        ]
        literal = [p for g in grants for p in g.resources if not any(c in p for c in "*?[")]
        names = [n for n in dict.fromkeys(literal) if typed.lower() in n.lower()]
        if typed and typed not in names and any(_matches(typed, g.resources) for g in grants):
            names.insert(0, typed)
        return [Choice(n, n) for n in names[:limit]]
    hits = [r for r in known if typed.lower() in r.lower()]
    hits.sort(key=lambda r: (not r.lower().startswith(typed.lower()), r))
    return [Choice(r, r) for r in hits[:limit]]


def form_choices(
    cfg: GrantflowConfig, requester: str, integration: str | None = None, resource_type: str | None = None
) -> FormChoices:
    flows = policy.flows_for(cfg, requester)
    out = FormChoices()
    seen: list[str] = []
    for g in _grants(flows):
        if g.integration not in seen and cfg.integration(g.integration) is not None:
            seen.append(g.integration)
    for iid in seen:
        integ = cfg.integration(iid)
        assert integ is not None
        out.integrations.append(Choice(iid, integ.name or iid))
    covering = flows
    if integration:
        integ = cfg.integration(integration)
        grants = _grants(flows, integration)
        if integ is not None and grants:
            for t in _types_of(integ):
                if any(_matches(t, g.resource_types) for g in grants):
                    out.resource_types.append(Choice(t, t))
        if resource_type:
            tgrants = [g for g in grants if _matches(resource_type, g.resource_types)]
            known = known_resources(cfg, requester, integration, resource_type)
            if known is not None and len(known) <= TYPE_AHEAD_THRESHOLD:
                out.resources = [Choice(r, r) for r in known]
            perms = policy.integration_permissions(cfg, integration, resource_type)
            out.permissions = [Choice(p, p) for p in perms if any(_matches(p, g.permissions) for g in tgrants)]
            covering = [f for f in flows if any(g in tgrants for g in _grants([f], integration))]
    _durations(out, covering or flows)
    return out


def _durations(out: FormChoices, flows: list[AccessFlow]) -> None:
    if not flows:
        out.durations = [Choice("3600", format_duration(3600))]
        return
    longest = max(f.max_duration for f in flows)
    values = [d for d in STANDARD_DURATIONS if d <= longest]
    default = flows[0].default_duration
    for extra in (default, longest):
        if extra not in values:
            values.append(extra)
    out.durations = [Choice(str(d), format_duration(d)) for d in sorted(values)]
    out.default_duration = str(default)
    out.justification_required = any(f.justification_required for f in flows)


def bundle_choices(cfg: GrantflowConfig, requester: str) -> list[Choice]:
    ids: list[str] = []
    for f in policy.flows_for(cfg, requester):
        for g in f.grants:
            if isinstance(g, FlowBundleGrant) and g.bundle not in ids and cfg.bundle(g.bundle) is not None:
                ids.append(g.bundle)
    out = []
    for bid in ids:
        b = cfg.bundle(bid)
        assert b is not None
        out.append(Choice(bid, b.name or bid))
    return out


def bundle_flows(cfg: GrantflowConfig, requester: str, bundle: str) -> list[AccessFlow]:
    return [
        f
        for f in policy.flows_for(cfg, requester)
        if any(isinstance(g, FlowBundleGrant) and g.bundle == bundle for g in f.grants)
    ]


def bundle_durations(cfg: GrantflowConfig, requester: str, bundle: str | None) -> FormChoices:
    out = FormChoices()
    flows = bundle_flows(cfg, requester, bundle) if bundle else []
    _durations(out, flows or policy.flows_for(cfg, requester))
    return out
