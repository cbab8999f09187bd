"""Who can, and what if: the access-flow policy read backwards and replayed, as pure functions.

- `who_can` answers "who may request this item, through which flow, approved by whom, for how long" by asking
  `grantflow.domain.policy.decide` itself, for every person who is a requestor of a covering flow and every
  duration band in which a different flow applies: the answer is what the policy would do, not a restatement.
- `simulate` re-decides recorded requests (the request index's views: requester, grantee, items, bundle,
  duration, justification) under another config and compares each with what happened.

Neither touches a workflow, a database or the clock: the front door (grantflow/cli/policy.py) reads the index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from grantflow.domain.config import GrantflowConfig
from grantflow.domain.models import AccessStatus, GrantItem, PolicyDecision, RequestSpec, StatusView
from grantflow.domain.policy import (
    PolicyError,
    covering_flows,
    decide,
    flow_covers,
    integration_permissions,
    item_problem,
)

# How the workflow words a request its policy check refused (workflows/access_request.py: "policy: <reason>").
POLICY_REFUSAL_PREFIX = "policy: "
# The justification `who_can` asks with: flows that require one are reported as such, not left out.
_ASKING = "who-can"


# --- who can ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """What happens to a request of `up_to_seconds` or less (and longer than the previous path's)."""

    up_to_seconds: int
    allowed: bool
    reason: str = ""
    flow_id: str = ""
    flow_name: str = ""
    approvers: tuple[str, ...] = ()
    approvals_required: int = 0
    justification_required: bool = False
    # Approved automatically when the requester is on call for this schedule (`auto_approve_if_oncall`).
    oncall_schedule: str | None = None
    # Escalation steps of the flow: (after seconds, the people each step adds).
    escalation: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def automatic(self) -> bool:
        return self.allowed and self.approvals_required == 0


@dataclass(frozen=True)
class Requester:
    """One person who may request the item with one permission, and what happens by duration."""

    person: str
    permission: str
    paths: tuple[Path, ...]

    @property
    def max_duration_seconds(self) -> int:
        return max((p.up_to_seconds for p in self.paths if p.allowed), default=0)


def item_permissions(cfg: GrantflowConfig, integration: str, resource_type: str, permission: str | None) -> list[str]:
    """The permissions `who_can` answers for: the one named, else every permission of the resource type."""
    if permission is not None:
        return [permission]
    perms = integration_permissions(cfg, integration, resource_type)
    if not perms:
        probe = GrantItem(integration=integration, resource_type=resource_type, resource="x", permission="x")
        raise PolicyError(item_problem(cfg, probe) or f"{integration}/{resource_type} has no permissions")
    return perms


def who_can(
    cfg: GrantflowConfig, integration: str, resource_type: str, resource: str, permission: str | None = None
) -> list[Requester]:
    """Everyone who may request the item (for themselves), per permission, with the paths their requests take.

    Raises PolicyError when the item is not in the catalog."""
    out: list[Requester] = []
    for perm in item_permissions(cfg, integration, resource_type, permission):
        item = GrantItem(integration=integration, resource_type=resource_type, resource=resource, permission=perm)
        problem = item_problem(cfg, item)
        if problem:
            raise PolicyError(problem)
        flows = [f for f in cfg.access_flows if flow_covers(cfg, f, item, None)]
        people = sorted(set(cfg.expand(p for f in flows for p in f.requestors)))
        for person in people:
            paths = paths_for(cfg, person, item)
            if paths:
                out.append(Requester(person=person, permission=perm, paths=tuple(paths)))
    return out


def paths_for(cfg: GrantflowConfig, person: str, item: GrantItem) -> list[Path]:
    """The person's requests of `item` for themselves, decided at each duration where the set of flows that fit
    changes (each flow's `max_duration`), merged where the same outcome continues."""
    flows = covering_flows(cfg, person, [item], None, person)
    bands = sorted({f.max_duration for f in flows if f.max_duration > 0})
    paths: list[Path] = []
    for up_to in bands:
        spec = RequestSpec(
            requester=person, grantee=person, items=[item], duration_seconds=up_to, justification=_ASKING
        )
        d = decide(cfg, spec)
        flow = cfg.flow(d.flow_id) if d.allowed else None
        path = Path(
            up_to_seconds=up_to,
            allowed=d.allowed,
            reason=d.reason,
            flow_id=d.flow_id,
            flow_name=d.flow_name,
            approvers=tuple(d.approvers),
            approvals_required=d.approvals_required,
            justification_required=bool(flow and flow.justification_required),
            oncall_schedule=d.oncall_schedule if d.allowed else None,
            escalation=tuple((e.after_seconds, tuple(e.approvers)) for e in d.escalation) if d.allowed else (),
        )
        if paths and _same(paths[-1], path):
            paths[-1] = path
        else:
            paths.append(path)
    return paths


def _same(a: Path, b: Path) -> bool:
    return (a.allowed, a.reason, a.flow_id, a.approvers, a.approvals_required) == (
        b.allowed,
        b.reason,
        b.flow_id,
        b.approvers,
        b.approvals_required,
    )


# --- what if -------------------------------------------------------------------------------------------------


class Change(StrEnum):
    """A difference between what happened and what would; the value is for JSON, `label` for people."""

    ALLOWED_TO_REFUSED = "allowed_to_refused"
    REFUSED_TO_ALLOWED = "refused_to_allowed"
    AUTOMATIC_TO_MANUAL = "automatic_to_manual"
    MANUAL_TO_AUTOMATIC = "manual_to_automatic"
    APPROVERS_CHANGED = "approvers_changed"
    MAX_DURATION_CUT = "max_duration_cut"

    @property
    def label(self) -> str:
        return self.value.replace("_to_", "→").replace("_", " ")


@dataclass(frozen=True)
class Outcome:
    """A request's policy outcome: what happened (from its record) or what would (from `decide`)."""

    allowed: bool
    reason: str = ""
    flow_id: str = ""
    approvers: tuple[str, ...] = ()
    approvals_required: int = 0
    duration_seconds: int = 0

    @property
    def automatic(self) -> bool:
        return self.allowed and self.approvals_required == 0

    def label(self) -> str:
        if not self.allowed:
            return f"refused: {self.reason}"
        if self.automatic:
            return f"{self.flow_id}: automatic"
        return f"{self.flow_id}: {self.approvals_required} of {', '.join(self.approvers)}"


@dataclass(frozen=True)
class Resimulated:
    request_id: str
    requester: str
    grantee: str
    items: tuple[GrantItem, ...]
    before: Outcome
    after: Outcome
    changes: tuple[Change, ...]


@dataclass
class Simulation:
    rows: list[Resimulated] = field(default_factory=list)

    @property
    def changed(self) -> list[Resimulated]:
        return [r for r in self.rows if r.changes]

    def counts(self) -> dict[str, int]:
        """Every kind of change (zero included, in a fixed order), and `unchanged`."""
        seen = Counter(c for r in self.rows for c in r.changes)
        return {c.value: seen[c] for c in Change} | {"unchanged": len(self.rows) - len(self.changed)}


def spec_of(view: StatusView) -> RequestSpec:
    """The request as it was submitted, from its recorded view."""
    return RequestSpec(
        requester=view.requester,
        grantee=view.grantee,
        items=list(view.grants),
        bundle=view.bundle,
        duration_seconds=view.duration_seconds,
        justification=view.justification,
    )


def recorded_outcome(view: StatusView) -> Outcome:
    """What the policy decided for a recorded request: refused when the workflow's policy check failed it."""
    if view.status == AccessStatus.FAILED and view.status_reason.startswith(POLICY_REFUSAL_PREFIX):
        return Outcome(allowed=False, reason=view.status_reason.removeprefix(POLICY_REFUSAL_PREFIX))
    # Approvers an escalation step added later were not part of the decision.
    return Outcome(
        allowed=True,
        flow_id=view.flow_id,
        approvers=tuple(sorted(set(view.approvers) - set(view.escalated_to))),
        approvals_required=view.approvals_required,
        duration_seconds=view.duration_seconds,
    )


def _outcome(d: PolicyDecision) -> Outcome:
    if not d.allowed:
        return Outcome(allowed=False, reason=d.reason)
    return Outcome(
        allowed=True,
        flow_id=d.flow_id,
        approvers=tuple(sorted(d.approvers)),
        approvals_required=d.approvals_required,
        duration_seconds=d.duration_seconds,
    )


def redecide(cfg: GrantflowConfig, spec: RequestSpec) -> Outcome:
    """`decide`, except that a request refused only for being longer than the flows now allow is decided at the
    longest duration that would be allowed (reported as a cut, not a refusal)."""
    d = decide(cfg, spec)
    if d.allowed:
        return _outcome(d)
    flows = covering_flows(cfg, spec.requester.strip().lower(), spec.items, spec.bundle, spec.grantee)
    for shorter in sorted({f.max_duration for f in flows if 0 < f.max_duration < spec.duration_seconds}, reverse=True):
        cut = decide(cfg, spec.model_copy(update={"duration_seconds": shorter}))
        if cut.allowed:
            return _outcome(cut)
    return _outcome(d)


def changes_between(before: Outcome, after: Outcome) -> tuple[Change, ...]:
    if before.allowed and not after.allowed:
        return (Change.ALLOWED_TO_REFUSED,)
    if not before.allowed:
        return (Change.REFUSED_TO_ALLOWED,) if after.allowed else ()
    out: list[Change] = []
    if before.automatic and not after.automatic:
        out.append(Change.AUTOMATIC_TO_MANUAL)
    elif after.automatic and not before.automatic:
        out.append(Change.MANUAL_TO_AUTOMATIC)
    elif not after.automatic and (before.approvers, before.approvals_required) != (
        after.approvers,
        after.approvals_required,
    ):
        out.append(Change.APPROVERS_CHANGED)
    if after.duration_seconds < before.duration_seconds:
        out.append(Change.MAX_DURATION_CUT)
    return tuple(out)


def simulate(cfg: GrantflowConfig, recorded: Iterable[StatusView]) -> Simulation:
    """Each recorded request re-decided under `cfg`, next to what happened."""
    sim = Simulation()
    for view in recorded:
        before = recorded_outcome(view)
        # A request refused as recorded stays compared as asked (a shorter one is another request).
        after = redecide(cfg, spec_of(view)) if before.allowed else _outcome(decide(cfg, spec_of(view)))
        sim.rows.append(
            Resimulated(
                request_id=view.request_id,
                requester=view.requester,
                grantee=view.grantee,
                items=tuple(view.grants),
                before=before,
                after=after,
                changes=changes_between(before, after),
            )
        )
    return sim
