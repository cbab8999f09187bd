"""What a person may request: the one catalog every front door asks.

- `requestable(config, person, query=None)`: everything the person may request, one entry per flow grant and
  resource type (MCP's `list_requestable`; assist's listings).
- `form_choices`, `known_resources`, `suggest_resources`, `bundle_choices`, `bundle_flows`,
  `bundle_durations`: what a request form may offer (the Slack modals), so a form never offers a choice
  the policy would refuse.

Pure functions of the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, Field

from grantflow.assist.suggestion import AssistError
from grantflow.assist.text import MAX_TEXT, _match, terms, weighted_query_terms
from grantflow.domain import policy
from grantflow.domain.config import (
    AccessFlow,
    FlowBundleGrant,
    FlowGrant,
    GrantflowConfig,
    ScriptIntegration,
    WebhookIntegration,
)
from grantflow.domain.durations import format_duration
from grantflow.domain.models import GrantItem

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
    if isinstance(integ, ScriptIntegration | WebhookIntegration):
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
            for t in policy.integration_resource_types(cfg, integration):
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


# --- everything a person may request (MCP list_requestable) ---------------------------------------------


class Requestable(BaseModel):
    """One thing an access flow lets the person ask for. `resources` are names or globs ("*" = any; for
    discovered integrations, any existing resource of that type)."""

    integration: str | None = None
    integration_name: str = ""
    description: str = ""
    resource_type: str | None = None
    resources: list[str] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)
    bundle: str | None = None
    bundle_items: list[GrantItem] = Field(default_factory=list)
    flow_id: str
    flow_name: str
    approvers: list[str]
    approvals_required: int
    default_duration_seconds: int
    max_duration_seconds: int
    justification_required: bool


def requestable(config: GrantflowConfig, person: str, query: str | None = None) -> list[Requestable]:
    """Everything `person` may request, one entry per flow grant and resource type, optionally narrowed
    to entries whose names, descriptions or tags match `query`. Raises AssistError for a person in no flow."""
    person = policy.normalize_email(person or "")
    flows = policy.flows_for(config, person)
    if not flows:
        raise AssistError(f"{person or 'this identity'} is not a requestor in any access flow: ask an admin to add you")
    if query and len(query) > MAX_TEXT:
        raise AssistError(f"the query is {len(query)} characters long; use at most {MAX_TEXT}")
    out: list[Requestable] = []
    for flow in flows:
        approvers = [a for a in config.expand(flow.approvers) if a != person]
        common: dict[str, Any] = {
            "flow_id": flow.id,
            "flow_name": flow.name or flow.id,
            "approvers": approvers,
            "approvals_required": flow.approvals_required,
            "default_duration_seconds": flow.default_duration,
            "max_duration_seconds": flow.max_duration,
            "justification_required": flow.justification_required,
        }
        for g in flow.grants:
            if isinstance(g, FlowBundleGrant):
                b = config.bundle(g.bundle)
                if b is not None:
                    out.append(
                        Requestable(
                            bundle=b.id,
                            integration_name=b.name or b.id,
                            description=b.description,
                            bundle_items=policy.bundle_items(config, b.id),
                            **common,
                        )
                    )
                continue
            integ = config.integration(g.integration)
            if integ is None:
                continue
            for rtype in policy.integration_resource_types(config, g.integration):
                if not any(fnmatchcase(rtype, p) for p in g.resource_types):
                    continue
                perms = [
                    p
                    for p in policy.integration_permissions(config, g.integration, rtype)
                    if any(fnmatchcase(p, pat) for pat in g.permissions)
                ]
                names = g.resources
                if isinstance(integ, ScriptIntegration | WebhookIntegration):
                    rt = next(t for t in integ.resource_types if t.id == rtype)
                    if rt.resources:
                        names = [r for r in rt.resources if any(fnmatchcase(r, p) for p in g.resources)]
                if perms and names:
                    out.append(
                        Requestable(
                            integration=integ.id,
                            integration_name=integ.name or integ.id,
                            description=integ.description,
                            resource_type=rtype,
                            resources=list(names),
                            permissions=perms,
                            **common,
                        )
                    )
    if not query or not query.strip():
        return out
    qterms = weighted_query_terms(query)
    kept = []
    for r in out:
        integ = config.integration(r.integration or "")
        text = " ".join(
            [
                r.integration or "",
                r.integration_name,
                r.description,
                r.resource_type or "",
                " ".join(r.resources),
                " ".join(r.permissions),
                r.bundle or "",
                r.flow_name,
                " ".join(integ.tags) if integ else "",
                " ".join(i.label() for i in r.bundle_items),
            ]
        )
        vocab = set(terms(text))
        choices = [v for v in vocab if len(v) >= 4]
        if any(_match(t, vocab, choices) for t in qterms):
            kept.append(r)
    return kept
