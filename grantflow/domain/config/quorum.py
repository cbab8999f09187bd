"""Can every flow's quorum be met? Pure checks over a schema-valid config.

A request is approved by the flow's approvers other than its requester and its grantee (grantflow.domain.policy
`decide`). So for every flow, every possible requester and every grantee that requester may name (themselves,
another requestor, one of the flow's `grantees`), at least `approvals_required` approvers must remain: otherwise
some requests of the flow can never be approved (an error). A flow some of whose requests can only ever be
approved by one person is a warning: that person's absence blocks them.

Linear in the size of the groups: the worst (requester, grantee) pair is found, not every pair tried.
"""

from __future__ import annotations

from grantflow.domain.config.schema import AccessFlow, GrantflowConfig

Problem = tuple[tuple[str | int, ...], str]


def _people(n: int) -> str:
    return f"{n} person" if n == 1 else f"{n} people"


def worst_pair(cfg: GrantflowConfig, flow: AccessFlow) -> tuple[str, str] | None:
    """The (requester, grantee) pair that leaves the fewest approvers, or None when the flow has no requestor.
    Ties go to the alphabetically first pair, so that messages are stable."""
    approvers = set(cfg.expand(flow.approvers))
    requestors = cfg.expand(flow.requestors)
    if not requestors:
        return None
    grantees = sorted(set(requestors) | set(cfg.expand(flow.grantees)))
    for r in requestors:
        if r in approvers:
            other = next((g for g in grantees if g in approvers and g != r), None)
            if other is not None:
                return r, other
    inside = next((r for r in requestors if r in approvers), None)
    if inside is not None:
        return inside, inside
    granted_approver = next((g for g in grantees if g in approvers), None)
    if granted_approver is not None:
        return next(r for r in requestors if r != granted_approver), granted_approver
    return requestors[0], requestors[0]


def remaining_approvers(cfg: GrantflowConfig, flow: AccessFlow, requester: str, grantee: str) -> list[str]:
    return [a for a in cfg.expand(flow.approvers) if a not in (requester, grantee)]


def quorum_problems(cfg: GrantflowConfig) -> list[Problem]:
    """An error for each flow some of whose requests could never gather `approvals_required` approvals.

    Flows with fewer approvers than required at all are reported by the cross-reference checks already."""
    problems: list[Problem] = []
    for f_i, flow in enumerate(cfg.access_flows):
        need = flow.approvals_required
        if need == 0 or need > len(cfg.expand(flow.approvers)):
            continue
        pair = worst_pair(cfg, flow)
        if pair is None:
            continue
        requester, grantee = pair
        left = remaining_approvers(cfg, flow, requester, grantee)
        if len(left) >= need:
            continue
        who = f"a request by {requester}" + (f" for {grantee}" if grantee != requester else "")
        names = f" ({', '.join(left)})" if left else ""
        problems.append(
            (
                ("access_flows", f_i, "approvals_required"),
                f"is {need}, but {who} could be approved by only {_people(len(left))}{names}: "
                "requesters and grantees cannot approve their own requests, so this quorum can never be met",
            )
        )
    return problems


def quorum_warnings(cfg: GrantflowConfig) -> list[Problem]:
    """A warning for each flow with requesters whose requests (for themselves) only one person can approve."""
    warnings: list[Problem] = []
    for f_i, flow in enumerate(cfg.access_flows):
        if flow.approvals_required == 0:
            continue
        approvers = cfg.expand(flow.approvers)
        requestors = cfg.expand(flow.requestors)
        single: dict[str, list[str]] = {}
        for r in requestors:
            left = [a for a in approvers if a != r]
            if len(left) == 1 and flow.approvals_required == 1:  # more required: an error (quorum_problems)
                single.setdefault(left[0], []).append(r)
        for approver, who in sorted(single.items()):
            whose = "this flow's requests" if len(who) == len(requestors) else "requests by " + ", ".join(who)
            warnings.append(
                (
                    ("access_flows", f_i, "approvers"),
                    f"{whose} can only ever be approved by {approver}: add approvers so that one absence "
                    "does not block them",
                )
            )
    return warnings
