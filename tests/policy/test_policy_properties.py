"""The access-flow policy as pure functions, checked against an independent statement of the rules.

Configs are generated from a small vocabulary (six people, three groups, two script integrations,
glob patterns, bundles) so that overlaps — a requester who is also an approver, a grantee who is the
only approver, two flows covering the same item — happen often. The oracles below restate the issue's
rules without calling into grantflow.domain.policy, so a change in the policy that breaks a rule fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import Any

import pytest
import yaml
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grantflow.domain.config import (
    AccessFlow,
    ConfigError,
    FlowBundleGrant,
    GrantflowConfig,
    config_warnings,
    load_config,
    parse_config,
)
from grantflow.domain.config.errors import line_map
from grantflow.domain.models import AccessStatus, ExtensionRules, GrantItem, PolicyDecision, RequestSpec
from grantflow.domain.policy import (
    PolicyError,
    bundle_items,
    decide,
    flow_covers,
    flows_for,
    item_problem,
    judge_approve,
    judge_extend,
    judge_reject,
    judge_revoke,
)
from tests.conftest import EXAMPLE_CONFIG, TEST_CONFIG

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EMAILS = [f"u{i}@example.com" for i in range(6)]
GROUPS = ["g0", "g1", "g2"]
INTEGRATIONS = ["i0", "i1"]
TYPES = ["t0", "t1"]
RESOURCES = ["r0", "r1", "r2", "x9"]
PERMS = ["p0", "p1", "p2"]
DURATIONS = [8 * 3600, 3600, 86400, 60]


# --- an independent statement of the rules ------------------------------------------------------------


def norm(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    """The issue's rule for an address: the library's syntax check (no DNS), nothing that could turn it into a
    path or break a line (no whitespace, control characters, slashes, backslashes or quotes), at most 254
    characters, and a dot in the domain."""
    e = email.strip()
    if not e or len(e) > 254 or any(c.isspace() or not c.isprintable() or c in "/\\\"'`" for c in e):
        return False
    if "." not in e.rpartition("@")[2].strip("."):
        return False
    try:
        validate_email(e, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        return False
    return True


def members(cfg: GrantflowConfig, principals: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for p in principals:
        if p.startswith("user:"):
            out.add(norm(p[5:]))
        elif p.startswith("group:"):
            out.update(norm(e) for e in cfg.groups.get(p[6:], []))
    return out


def in_catalog(cfg: GrantflowConfig, item: GrantItem) -> bool:
    for integ in cfg.integrations:
        if integ.id != item.integration or integ.type != "script":
            continue
        for rt in integ.resource_types:
            if rt.id == item.resource_type:
                named = item.resource in rt.resources if rt.resources else bool(item.resource.strip())
                return named and item.permission in rt.permissions
    return False


def covers(cfg: GrantflowConfig, flow: AccessFlow, item: GrantItem, bundle: str | None) -> bool:
    for g in flow.grants:
        if isinstance(g, FlowBundleGrant):
            if bundle is not None and g.bundle != bundle:
                continue
            b = next((b for b in cfg.bundles if b.id == g.bundle), None)
            if b and any(GrantItem(**bi.model_dump()) == item for bi in b.items):
                return True
        elif (
            g.integration == item.integration
            and any(fnmatchcase(item.resource_type, p) for p in g.resource_types)
            and any(fnmatchcase(item.resource, p) for p in g.resources)
            and any(fnmatchcase(item.permission, p) for p in g.permissions)
        ):
            return True
    return False


def eligible_flows(cfg: GrantflowConfig, spec: RequestSpec) -> list[AccessFlow]:
    """Every flow under which the request may go ahead; the request is allowed iff this is non-empty."""
    requester, grantee = norm(spec.requester), norm(spec.grantee)
    if not valid_email(requester) or not valid_email(grantee):
        return []
    if not spec.items or len(set(spec.items)) != len(spec.items):
        return []
    if not all(in_catalog(cfg, i) for i in spec.items):
        return []
    if spec.bundle is not None:  # a named bundle must exist and hold every requested item
        b = next((b for b in cfg.bundles if b.id == spec.bundle), None)
        held = {(x.integration, x.resource_type, x.resource, x.permission) for x in b.items} if b else set()
        if any((i.integration, i.resource_type, i.resource, i.permission) not in held for i in spec.items):
            return []
    return [
        f
        for f in cfg.access_flows
        if requester in members(cfg, f.requestors)
        # The grantee is the requester, another requestor of the flow, or one of the flow's grantees.
        and grantee in {requester} | members(cfg, f.requestors) | members(cfg, f.grantees)
        and all(covers(cfg, f, i, spec.bundle) for i in spec.items)
        and 0 < spec.duration_seconds <= f.max_duration
        and len(members(cfg, f.approvers) - {requester, grantee}) >= f.approvals_required
        and (spec.justification.strip() or not f.justification_required)
    ]


# --- generated configs and requests ---------------------------------------------------------------------


# Every draw goes through a few strategies built once: building strategies inside a composite (sampled_from
# over a fresh list, flatmap) costs more than the policy itself and would make these tests slow.
_PICKS = {(lo, hi): st.lists(st.integers(0, 255), min_size=lo, max_size=hi) for lo in (0, 1) for hi in (2, 3, 4)}
_BOOL = st.booleans()
_INT = st.integers(0, 255)
Draw = Callable[[st.SearchStrategy[Any]], Any]


def pick(draw: Draw, pool: list[Any], lo: int = 0, hi: int = 3, unique: bool = True) -> list[Any]:
    """Up to `hi` elements of `pool` (at least one when lo=1), chosen by index so that they shrink well."""
    if not pool:
        return []
    chosen = [pool[i % len(pool)] for i in draw(_PICKS[lo, hi])]
    return list({repr(c): c for c in chosen}.values()) if unique else chosen


def one(draw: Draw, pool: list[Any]) -> Any:
    return pool[draw(_INT) % len(pool)]


@st.composite
def config_data(draw: st.DrawFn) -> dict[str, Any]:
    """A config that `grantflow config check` accepts (checked by the first test below)."""
    groups = {g: pick(draw, EMAILS, hi=4) for g in pick(draw, GROUPS)}
    principals = [f"user:{e}" for e in EMAILS] + [f"group:{g}" for g in groups]

    integrations: list[dict[str, Any]] = []
    catalog: list[dict[str, str]] = []
    for iid in pick(draw, INTEGRATIONS, lo=1):
        rtypes = []
        for tid in pick(draw, TYPES, lo=1):
            resources = pick(draw, RESOURCES)
            perms = pick(draw, PERMS, lo=1)
            rtypes.append({"id": tid, "resources": resources, "permissions": perms})
            catalog += [
                {"integration": iid, "resource_type": tid, "resource": r, "permission": p}
                for r in (resources or RESOURCES)
                for p in perms
            ]
        integrations.append(
            {"id": iid, "type": "script", "resource_types": rtypes, "grant": ["true"], "revoke": ["true"]}
        )
    bundles = [{"id": bid, "items": pick(draw, catalog, lo=1)} for bid in pick(draw, ["b0", "b1"])]

    def grant() -> dict[str, Any]:
        if draw(_BOOL) and bundles:
            return {"bundle": one(draw, bundles)["id"]}
        integ = one(draw, integrations)
        types = [t["id"] for t in integ["resource_types"]]
        return {
            "integration": integ["id"],
            "resource_types": ["*"] if draw(_BOOL) else pick(draw, types, lo=1),
            "resources": one(draw, [["*"], ["r*"], ["r0"], ["r1", "x9"]]),
            "permissions": ["*"] if draw(_BOOL) else pick(draw, PERMS, lo=1),
        }

    flows = []
    for n in range(1 + draw(_INT) % 3):
        approvers = pick(draw, principals)
        can_approve = GrantflowConfig(groups=groups).expand(approvers)
        max_duration = one(draw, DURATIONS)
        flows.append(
            {
                "id": f"f{n}",
                "requestors": pick(draw, principals, lo=1),
                "grantees": pick(draw, principals),
                "grants": [grant() for _ in range(1 + draw(_INT) % 3)],
                "approvers": approvers,
                # Drawn down from the most possible: hypothesis favours 0, which would make most flows automatic.
                "approvals_required": min(len(can_approve), 3) - draw(_INT) % (min(len(can_approve), 3) + 1),
                "max_duration": max_duration,
                "default_duration": one(draw, [d for d in DURATIONS if d <= max_duration]),
                "justification_required": draw(_BOOL),
                "extension": {
                    "enabled": draw(_BOOL),
                    "max_extensions": draw(_INT) % 4,
                    "duration": one(draw, [60, 3600]),
                    "notify_before": 60,
                },
            }
        )
    admins = pick(draw, principals, hi=2)
    return {"admins": admins, "groups": groups, "integrations": integrations, "bundles": bundles, "access_flows": flows}


_PERSON = st.sampled_from(EMAILS) | st.sampled_from(EMAILS).map(lambda e: f"  {e.upper()} ")


def person() -> st.SearchStrategy[str]:
    """An email as people type it: sometimes shouting, sometimes with stray spaces."""
    return _PERSON


OFF_CATALOG = [
    GrantItem(integration="nope", resource_type="t0", resource="r0", permission="p0"),
    GrantItem(integration="i0", resource_type="t9", resource="r0", permission="p0"),
    GrantItem(integration="i0", resource_type="t0", resource="r0", permission="p9"),
    GrantItem(integration="i1", resource_type="t1", resource="zz", permission="p1"),
    GrantItem(integration="i0", resource_type="t0", resource=" ", permission="p0"),
]
SECONDS = [3600, 60, 61, 1, 3601, 8 * 3600, 86400, 86401, 0, -5]
JUSTIFICATIONS = ["incident 42", "", "   "]


def catalog_items(cfg: GrantflowConfig) -> list[GrantItem]:
    return [
        GrantItem(integration=i.id, resource_type=t.id, resource=r, permission=p)
        for i in cfg.integrations
        if i.type == "script"
        for t in i.resource_types
        for r in (t.resources or RESOURCES)
        for p in t.permissions
    ]


def draw_request(draw: Draw, cfg: GrantflowConfig) -> RequestSpec:
    """A request against `cfg`. Mostly a requestor of some flow asking for what that flow covers (else
    nearly everything would be refused early); sometimes anyone, off-catalog or repeated items, a bundle."""
    flow = one(draw, cfg.access_flows)
    insiders = sorted(members(cfg, flow.requestors))
    requester = one(draw, insiders) if insiders and not draw(_BOOL) else norm(draw(_PERSON))
    if draw(_BOOL):
        requester = f" {requester.upper()}"
    grantee = requester if draw(_BOOL) else draw(_PERSON)
    catalog = catalog_items(cfg)
    bundle: str | None = None
    match draw(_INT) % 8:
        case 7:
            items = pick(draw, catalog + OFF_CATALOG, unique=False)
        case 6 if cfg.bundles:
            bundle = one(draw, [b.id for b in cfg.bundles])
            items = bundle_items(cfg, bundle)
        case _:
            covered = [i for i in catalog if covers(cfg, flow, i, None)]
            items = pick(draw, covered or catalog, lo=1)
            # Naming a bundle narrows the bundle grants to that one, even when the items are in another.
            bundle = one(draw, [None, None, "b0", "b1"])
    return RequestSpec(
        requester=requester,
        grantee=grantee,
        items=items,
        bundle=bundle,
        duration_seconds=one(draw, SECONDS),
        justification=one(draw, JUSTIFICATIONS),
    )


# --- decide -------------------------------------------------------------------------------------------------


def unmet_quorums(cfg: GrantflowConfig) -> set[int]:
    """The flows some request of which (any requester, any grantee they may name) cannot gather its approvals,
    though the flow has enough approvers in all."""
    out = set()
    for n, f in enumerate(cfg.access_flows):
        approvers, requestors = members(cfg, f.approvers), members(cfg, f.requestors)
        if not 0 < f.approvals_required <= len(approvers):
            continue
        grantees = requestors | members(cfg, f.grantees)
        if any(len(approvers - {r, g}) < f.approvals_required for r in requestors for g in grantees | {r}):
            out.add(n)
    return out


def single_approver_flows(cfg: GrantflowConfig) -> set[int]:
    return {
        n
        for n, f in enumerate(cfg.access_flows)
        if f.approvals_required == 1
        and any(len(members(cfg, f.approvers) - {r}) == 1 for r in members(cfg, f.requestors))
    }


@settings(FAST, max_examples=100)
@given(config_data())
def test_generated_configs_pass_config_check_unless_a_quorum_cannot_be_met(data: dict[str, Any]) -> None:
    """Every generated config is valid but for quorums that some request could never meet: exactly those are
    reported, at their `approvals_required` line; flows whose requests one person alone approves are warned."""
    text = yaml.safe_dump(data, sort_keys=False)
    cfg = GrantflowConfig.model_validate(data)
    unmet = unmet_quorums(cfg)
    try:
        parsed = parse_config(text, "g.yml")
    except ConfigError as exc:
        lines = line_map(text)
        assert unmet, exc.problems
        assert exc.problems == [
            f"g.yml:{lines[('access_flows', n, 'approvals_required')]}: access_flows[{n}].approvals_required: "
            + exc.problems[i].split("approvals_required: ", 1)[1]
            for i, n in enumerate(sorted(unmet))
        ]
        assert all("this quorum can never be met" in p for p in exc.problems)
        return
    assert not unmet
    warned = config_warnings(parsed, text, "g.yml")
    assert {int(w.split("access_flows[")[1].split("]")[0]) for w in warned} == single_approver_flows(cfg)


def check_decision(cfg: GrantflowConfig, spec: RequestSpec) -> None:
    eligible = eligible_flows(cfg, spec)
    d = decide(cfg, spec)
    assert d.allowed == bool(eligible), d.reason
    if not d.allowed:
        assert d.reason and not d.approvers and d.flow_id == ""
        return
    flow = next(f for f in eligible if f.id == d.flow_id)
    requester, grantee = norm(spec.requester), norm(spec.grantee)
    assert flow.approvals_required == min(f.approvals_required for f in eligible), (
        "fewest approvals first, so 0 (automatic) wins"
    )
    assert d.approvers == sorted(members(cfg, flow.approvers) - {requester, grantee})
    assert requester not in d.approvers and grantee not in d.approvers
    assert d.approvals_required == flow.approvals_required <= len(d.approvers)
    assert d.duration_seconds == spec.duration_seconds <= d.max_duration_seconds == flow.max_duration
    assert d.admins == sorted(members(cfg, cfg.admins))
    ext = flow.extension
    assert d.extension == ExtensionRules(
        enabled=ext.enabled,
        max_extensions=ext.max_extensions if ext.enabled else 0,
        duration_seconds=ext.duration,
        notify_before_seconds=ext.notify_before,
    )
    assert flow in flows_for(cfg, spec.requester)
    assert all(flow_covers(cfg, flow, i, spec.bundle) for i in spec.items)
    assert all(item_problem(cfg, i) is None for i in spec.items)


def check_approvals_reachable(cfg: GrantflowConfig, spec: RequestSpec) -> None:
    """Walk everyone through `judge_approve`: the requester and grantee are refused, each approver counts
    once, and together they reach the required number."""
    d = decide(cfg, spec)
    if not d.allowed:
        return
    approved: list[str] = []
    for who in [spec.requester, spec.grantee, *d.approvers]:
        if judge_approve(d, spec, AccessStatus.PENDING_APPROVAL, approved, who) is None:
            approved.append(who)
        assert judge_approve(d, spec, AccessStatus.PENDING_APPROVAL, approved, who) is not None
    assert approved == d.approvers
    assert len(approved) >= d.approvals_required


def check_variants(cfg: GrantflowConfig, spec: RequestSpec, extra_seconds: int) -> None:
    """A doubled item, a duration over every maximum, or no justification never turn a refusal into a grant."""
    if spec.items:
        doubled = spec.model_copy(update={"items": [*spec.items, spec.items[0]]})
        assert not decide(cfg, doubled).allowed
    longest = max(f.max_duration for f in cfg.access_flows)
    assert not decide(cfg, spec.model_copy(update={"duration_seconds": longest + extra_seconds})).allowed
    bare = decide(cfg, spec.model_copy(update={"justification": " \n"}))
    if bare.allowed:
        flow = cfg.flow(bare.flow_id)
        assert flow is not None and not flow.justification_required


@FAST
@given(config_data(), st.data())
def test_decide_follows_the_rules(data: dict[str, Any], draw: st.DataObject) -> None:
    cfg = GrantflowConfig.model_validate(data)
    for _ in range(4):
        spec = draw_request(draw.draw, cfg)
        check_decision(cfg, spec)
        check_approvals_reachable(cfg, spec)
        check_variants(cfg, spec, 1 + draw.draw(_INT) * 1000)


garbage = st.text(max_size=12) | st.sampled_from(
    [
        "",
        "@",
        "user:x@y",
        "group:g0",
        "*",
        " u0@example.com\n",
        "../../u0@example.com",
        "u0/x@example.com",
        "u0@example",
        "u 0@example.com",
        '"u0"@example.com',
        "u0@example.com\x00",
        "u0\\@example.com",
    ]
)


@FAST
@given(
    config_data(),
    garbage,
    garbage,
    st.lists(st.builds(GrantItem, integration=garbage, resource_type=garbage, resource=garbage, permission=garbage)),
    st.none() | garbage,
    st.integers(-(2**63), 2**63),
    st.text(max_size=5),
)
def test_decide_never_raises(
    data: dict[str, Any],
    requester: str,
    grantee: str,
    items: list[GrantItem],
    bundle: str | None,
    seconds: int,
    justification: str,
) -> None:
    cfg = GrantflowConfig.model_validate(data)
    spec = RequestSpec(
        requester=requester,
        grantee=grantee,
        items=items,
        bundle=bundle,
        duration_seconds=seconds,
        justification=justification,
    )
    check_decision(cfg, spec)


# --- judgements on signals ----------------------------------------------------------------------------------


@st.composite
def decisions(draw: st.DrawFn) -> tuple[PolicyDecision, RequestSpec]:
    """A recorded decision as `decide` writes it (lower-case emails), and the request it was made for."""
    some = st.lists(st.sampled_from(EMAILS), unique=True, max_size=4).map(sorted)
    enabled = draw(st.booleans())
    decision = PolicyDecision(
        allowed=True,
        flow_id="f0",
        approvers=draw(some),
        approvals_required=draw(st.integers(0, 3)),
        admins=draw(some),
        extension=ExtensionRules(enabled=enabled, max_extensions=draw(st.integers(0, 3)) if enabled else 0),
        duration_seconds=3600,
        max_duration_seconds=3600,
    )
    requester = draw(st.sampled_from(EMAILS))
    spec = RequestSpec(
        requester=requester,
        grantee=draw(st.just(requester) | st.sampled_from(EMAILS)),
        items=[GrantItem(integration="i0", resource_type="t0", resource="r0", permission="p0")],
        duration_seconds=3600,
    )
    return decision, spec


statuses = st.sampled_from(list(AccessStatus))
actor = person() | st.sampled_from(["", "nobody", "u0@example.com.evil"])


@FAST
@given(decisions(), statuses, st.lists(person(), max_size=3), actor, st.booleans(), st.sampled_from(["", "  ", "fire"]))
def test_judge_approve(
    case: tuple[PolicyDecision, RequestSpec],
    status: AccessStatus,
    already: list[str],
    approver: str,
    break_glass: bool,
    reason: str,
) -> None:
    d, spec = case
    who = norm(approver)
    refusal = judge_approve(d, spec, status, already, approver, break_glass, reason)
    if who in (norm(spec.requester), norm(spec.grantee)) or status != AccessStatus.PENDING_APPROVAL:
        ok = False
    elif break_glass:
        ok = who in d.admins and bool(reason.strip())
    else:
        ok = who in d.approvers and who not in {norm(a) for a in already}
    assert (refusal is None) == ok, refusal


@FAST
@given(decisions(), person(), st.sampled_from(["fire", ""]))
def test_nobody_approves_their_own_request_not_even_an_admin(
    case: tuple[PolicyDecision, RequestSpec], who: str, reason: str
) -> None:
    d, spec = case
    d = d.model_copy(update={"approvers": EMAILS, "admins": EMAILS})
    own = spec.model_copy(update={"requester": who})
    for break_glass in (False, True):
        assert judge_approve(d, own, AccessStatus.PENDING_APPROVAL, [], who, break_glass, reason)
        assert judge_approve(d, spec, AccessStatus.PENDING_APPROVAL, [], spec.grantee.upper(), break_glass, reason)


@FAST
@given(decisions(), statuses, actor)
def test_judge_reject(case: tuple[PolicyDecision, RequestSpec], status: AccessStatus, approver: str) -> None:
    d, spec = case
    who = norm(approver)
    if status != AccessStatus.PENDING_APPROVAL:
        ok = False
    elif who in d.admins:
        ok = True
    else:
        ok = who in d.approvers and who not in (norm(spec.requester), norm(spec.grantee))
    assert (judge_reject(d, spec, status, approver) is None) == ok


@FAST
@given(decisions(), statuses, st.integers(0, 5), actor)
def test_judge_extend(case: tuple[PolicyDecision, RequestSpec], status: AccessStatus, used: int, who: str) -> None:
    d, spec = case
    ok = (
        status == AccessStatus.ACTIVE
        and norm(who) in {norm(spec.requester), norm(spec.grantee), *d.admins}
        and d.extension.enabled
        and used < d.extension.max_extensions
    )
    assert (judge_extend(d, spec, status, used, who) is None) == ok


@FAST
@given(decisions(), statuses, actor)
def test_judge_revoke(case: tuple[PolicyDecision, RequestSpec], status: AccessStatus, who: str) -> None:
    d, spec = case
    may = {norm(spec.requester), norm(spec.grantee), *d.approvers, *d.admins}
    ok = not status.is_final and status != AccessStatus.REVOKING and norm(who) in may
    assert (judge_revoke(d, spec, status, who) is None) == ok


# --- the shipped catalogs --------------------------------------------------------------------------------------

ALICE, BOB, CAROL, DAN, DAVE, ERIN = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dan", "dave", "erin"))


def folder(resource: str, permission: str = "read") -> GrantItem:
    return GrantItem(integration="files", resource_type="folder", resource=resource, permission=permission)


def ask(
    cfg: GrantflowConfig, who: str, items: list[GrantItem], seconds: int = 3600, why: str = "ticket 7", **kw: Any
) -> PolicyDecision:
    return decide(
        cfg,
        RequestSpec(
            requester=who,
            grantee=kw.pop("grantee", who),
            items=items,
            duration_seconds=seconds,
            justification=why,
            **kw,
        ),
    )


@pytest.fixture(scope="module")
def fixture_cfg() -> GrantflowConfig:
    return load_config(TEST_CONFIG)


@pytest.fixture(scope="module")
def example_cfg() -> GrantflowConfig:
    return load_config(EXAMPLE_CONFIG)


def test_fixture_catalog_decisions(fixture_cfg: GrantflowConfig) -> None:
    cfg = fixture_cfg
    d = ask(cfg, ALICE, [folder("alpha")])
    assert (d.allowed, d.flow_id, d.approvers, d.approvals_required) == (True, "read-folders", [BOB, CAROL], 1)
    assert d.extension == ExtensionRules(
        enabled=True, max_extensions=2, duration_seconds=3600, notify_before_seconds=900
    )
    assert ask(cfg, CAROL, [folder("alpha")]).approvers == [BOB]

    two = ask(cfg, CAROL, [folder("alpha", "write")], grantee=BOB)
    assert (two.flow_id, two.approvers, two.approvals_required) == ("write-folders", [ERIN, "frank@example.com"], 2)
    assert two.extension.enabled is False and two.extension.max_extensions == 0

    auto = ask(cfg, ERIN, [folder("gamma")], why="", seconds=86400)
    assert (auto.allowed, auto.flow_id, auto.approvals_required) == (True, "auto-gamma", 0)

    pair = ask(cfg, DAN, bundle_items(cfg, "pair"), bundle="pair")
    assert (pair.allowed, pair.flow_id) == (True, "read-folders")


@pytest.mark.parametrize(
    ("who", "items", "seconds", "why", "reason"),
    [
        (DAN, [folder("alpha", "write")], 3 * 3600, "x", "duration 3h is over the flow's maximum of 2h"),
        (ALICE, [folder("alpha")], 3600, " ", "a justification is required"),
        ("zed@example.com", [folder("alpha")], 3600, "x", "zed@example.com is not a requestor in any access flow"),
        (ALICE, [folder("gamma", "write")], 3600, "x", "no access flow lets alice@example.com request"),
        (ALICE, [folder("delta")], 3600, "x", 'unknown folder "delta" in "files"'),
        (ALICE, [folder("alpha", "admin")], 3600, "x", 'unknown permission "admin" for files/folder'),
        (ALICE, [folder("alpha"), folder("alpha")], 3600, "x", "the same item is requested twice"),
        (ALICE, [], 3600, "x", "nothing requested"),
        ("alice", [folder("alpha")], 3600, "x", "must be email addresses"),
        ("../../alice@example.com", [folder("alpha")], 3600, "x", "it contains a slash"),
        ("alice@example", [folder("alpha")], 3600, "x", "the domain has no dot"),
        (ALICE, [folder("alpha")], 0, "x", "the duration must be positive"),
    ],
)
def test_fixture_catalog_refusals(
    fixture_cfg: GrantflowConfig, who: str, items: list[GrantItem], seconds: int, why: str, reason: str
) -> None:
    d = ask(fixture_cfg, who, items, seconds, why)
    assert not d.allowed
    assert reason in d.reason


def test_the_grantee_must_be_allowed_by_the_flow(fixture_cfg: GrantflowConfig) -> None:
    """`--for X`: X is the requester, another requestor of the flow, or in its `grantees`; else refused, naming
    the flow and why."""
    cfg = fixture_cfg
    colleague = ask(cfg, ALICE, [folder("alpha")], grantee=DAN)  # both in group:engineering
    assert (colleague.allowed, colleague.flow_id) == (True, "read-folders")
    listed = ask(cfg, CAROL, [folder("alpha", "write")], grantee=BOB)  # write-folders lists bob as a grantee
    assert (listed.allowed, listed.flow_id) == (True, "write-folders")
    outsider = ask(cfg, ALICE, [folder("alpha")], grantee="mallory@example.com")
    assert not outsider.allowed
    assert outsider.reason == (
        'access flow "Read folders" may not grant access to mallory@example.com: mallory@example.com is neither a '
        "requestor of it nor listed in its grantees"
    )
    # bob is a grantee of write-folders only: reading for him is refused.
    assert "Read folders" in ask(cfg, ALICE, [folder("alpha")], grantee=BOB).reason
    auto = ask(cfg, ERIN, [folder("gamma")], why="", grantee="Mallory@Example.com")
    assert not auto.allowed and 'access flow "Gamma for seniors (automatic)"' in auto.reason
    path_like = ask(cfg, ALICE, [folder("alpha")], grantee="../../x@example.com")
    assert not path_like.allowed and "it contains a slash" in path_like.reason


def test_bundle_items(fixture_cfg: GrantflowConfig) -> None:
    assert bundle_items(fixture_cfg, "pair", ["beta"]) == [folder("beta")]
    with pytest.raises(PolicyError, match='bundle "pair" has no resource gamma'):
        bundle_items(fixture_cfg, "pair", ["gamma"])
    with pytest.raises(PolicyError, match='unknown bundle "nope"'):
        bundle_items(fixture_cfg, "nope")


def test_example_catalog_decisions(example_cfg: GrantflowConfig) -> None:
    cfg = example_cfg
    reports = GrantItem(integration="reports", resource_type="folder", resource="finance", permission="read")
    table = GrantItem(
        integration="demo-postgres", resource_type="table", resource="orders.public.x", permission="write"
    )

    oncall = ask(cfg, ALICE, bundle_items(cfg, "oncall-debug"), bundle="oncall-debug")
    assert (oncall.allowed, oncall.flow_id, oncall.approvers) == (True, "engineers-read", [BOB])

    auto = ask(cfg, DAVE, [reports], why="", seconds=86400)
    assert (auto.allowed, auto.flow_id, auto.approvals_required) == (True, "reports-read", 0)

    owner = ask(cfg, BOB, [table], seconds=4 * 3600)
    assert (owner.allowed, owner.flow_id, owner.approvers) == (True, "db-owners-write", [ALICE, CAROL])
    assert not ask(cfg, ALICE, [table]).allowed

    write = reports.model_copy(update={"permission": "write"})
    assert ask(cfg, ALICE, [write]).approvers == [BOB, DAVE]
    alone = ask(cfg, DAVE, [write], grantee=BOB)
    assert not alone.allowed and 'access flow "Report folders, write" may not grant access to bob' in alone.reason
