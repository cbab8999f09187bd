"""Building a request spec from the fields a front door collected: pure, no I/O.

`build_spec` checks the fields against the catalog and the policy and returns a `RequestSpec` the policy
allows, or raises `SpecError` naming the field the problem is about (so a form can show it next to that
field). `PolicyRefusal` is the `SpecError` for a request that is well-formed but that no access flow
allows; front doors record those in the audit trail (the client facade does it for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from grantflow.domain import policy
from grantflow.domain.config import GrantflowConfig
from grantflow.domain.durations import DurationError, parse_duration
from grantflow.domain.emails import BadEmail, check_email
from grantflow.domain.models import GrantItem, RequestSpec

Field = Literal[
    "requester",
    "grantee",
    "integration",
    "resource_type",
    "resources",
    "permission",
    "duration",
    "justification",
    "bundle",
    "start_at",
]

MAX_JUSTIFICATION = 3000
DEFAULT_DURATION = 3600
_FLAGS: dict[str, Field] = {
    "--integration": "integration",
    "--resource-type": "resource_type",
    "--permission": "permission",
    "--resource": "resources",
}


class SpecError(ValueError):
    """A field a request cannot be built from; `field` names it, the message says why."""

    def __init__(self, message: str, field: Field):
        super().__init__(message)
        self.field: Field = field


class PolicyRefusal(SpecError):
    """The fields make a request, but the policy does not allow it."""


def check_person(email: str | None, field: Field) -> str:
    """A person's email as typed, checked by the one email rule."""
    try:
        return check_email(email or "")
    except BadEmail as exc:
        raise SpecError(str(exc), field) from None


def build_spec(
    cfg: GrantflowConfig,
    *,
    requester: str,
    grantee: str | None = None,
    integration: str | None = None,
    resource_type: str | None = None,
    resources: Sequence[str] = (),
    permission: str | None = None,
    bundle: str | None = None,
    duration: str | int | None = None,
    justification: str = "",
    source: str = "cli",
    start_at: str | datetime | None = None,
    now: datetime | None = None,
) -> RequestSpec:
    """Turn front-door fields into a spec the policy allows, or raise SpecError/PolicyRefusal with why.
    `start_at`: an ISO time (UTC unless it says otherwise) or `+2h` (from `now`, default the clock's)."""
    requester = check_person(requester, "requester")
    grantee = check_person(grantee, "grantee") if grantee is not None else requester
    if len(justification) > MAX_JUSTIFICATION:
        raise SpecError(f"the justification is longer than {MAX_JUSTIFICATION} characters", "justification")
    items = _items(cfg, integration, resource_type, resources, permission, bundle)
    seconds = _duration(cfg, requester, grantee, items, bundle, duration)
    spec = RequestSpec(
        requester=requester,
        grantee=grantee,
        items=items,
        bundle=bundle,
        duration_seconds=seconds,
        justification=justification.strip(),
        source=source,
        start_at=parse_start(start_at, now or datetime.now(UTC)),
    )
    decision = policy.decide(cfg, spec)
    if not decision.allowed:
        raise PolicyRefusal(decision.reason, refusal_field(decision.reason, bundle))
    why = policy.judge_start(decision, spec, now or datetime.now(UTC))
    if why:
        raise SpecError(why, "start_at")
    return spec


def parse_start(value: str | datetime | None, now: datetime) -> datetime | None:
    """`2026-12-24T09:00`, `2026-12-24 09:00+01:00`, or `+2h` / `+1d` from now; None or "" for "at once"."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    if text.startswith("+"):
        try:
            return now + timedelta(seconds=parse_duration(text[1:]))
        except DurationError as exc:
            raise SpecError(f"start time {text!r}: {exc}", "start_at") from None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(
            f"start time {text!r} is not a time: use e.g. 2026-12-24T09:00 (UTC), 2026-12-24T09:00+01:00 or +2h",
            "start_at",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _items(
    cfg: GrantflowConfig,
    integration: str | None,
    resource_type: str | None,
    resources: Sequence[str],
    permission: str | None,
    bundle: str | None,
) -> list[GrantItem]:
    if bundle:
        try:
            return policy.bundle_items(cfg, bundle, resources)
        except policy.PolicyError as exc:
            field: Field = "resources" if cfg.bundle(bundle) is not None else "bundle"
            raise SpecError(str(exc), field) from None
    missing = [
        n
        for n, v in (("--integration", integration), ("--resource-type", resource_type), ("--permission", permission))
        if not v
    ]
    if missing or not resources:
        missing += [] if resources else ["--resource"]
        raise SpecError(f"missing {', '.join(missing)} (or use --bundle)", _FLAGS[missing[0]])
    assert integration and resource_type and permission
    items = [
        GrantItem(integration=integration, resource_type=resource_type, resource=r, permission=permission)
        for r in dict.fromkeys(resources)
    ]
    for item in items:
        problem = policy.item_problem(cfg, item)
        if problem:
            raise SpecError(problem, _item_field(problem))
    return items


def _item_field(problem: str) -> Field:
    """Which field a `policy.item_problem` message is about."""
    if problem.startswith("unknown integration"):
        return "integration"
    if "has no resource type" in problem:
        return "resource_type"
    if problem.startswith("unknown permission"):
        return "permission"
    return "resources"


def _duration(
    cfg: GrantflowConfig,
    requester: str,
    grantee: str,
    items: list[GrantItem],
    bundle: str | None,
    duration: str | int | None,
) -> int:
    if duration not in (None, ""):
        try:
            seconds = parse_duration(duration)  # type: ignore[arg-type]
        except DurationError as exc:
            raise SpecError(f"--duration: {exc}", "duration") from None
        if seconds <= 0:
            raise SpecError("--duration must be positive", "duration")
        return seconds
    flows = policy.covering_flows(cfg, requester, items, bundle, grantee=grantee)
    return flows[0].default_duration if flows else DEFAULT_DURATION


def refusal_field(reason: str, bundle: str | None = None) -> Field:
    """The field a policy refusal is about, from its reason."""
    lower = reason.lower()
    if policy.GRANTEE_REFUSAL in reason:
        return "grantee"
    if "requester" in lower or "not a requestor" in lower:
        return "requester"
    if "duration" in lower:
        return "duration"
    if "justification" in lower:
        return "justification"
    if "permission" in lower:
        return "permission"
    return "bundle" if bundle else "resources"
