"""Calling the item activities (grant, extend, revoke one item: `GrantActivities` in activities/grants.py)
with their timeouts and retries, and reading what went wrong when one fails. No I/O of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.grants import GrantActivities
    from grantflow.domain.models import GrantItem, GrantResult
    from grantflow.domain.ops import GRANTED_UNTIL, WANTED_UNTIL, ItemOp

from workflows.outbox import Outbox
from workflows.state import RequestState

GRANT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=3
)
EXTEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Each revoke round retries a few times inside the activity; between rounds the workflow records the error
# in status_reason and backs off, forever: revocation is never given up.
REVOKE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=20), maximum_attempts=4
)
# The clock starts when the grants took effect, not when GRANTING began (docs/contract.md, "When access starts
# and ends"): each grant counts the expiry it sets and reports it (`start_clock`); older histories as recorded.
ACTIVE_CLOCK_PATCH = "expiry-from-active"
ITEM_TIMEOUT = timedelta(minutes=2)
# Revocations go first where the server keeps a backlog of activity tasks (task-queue priority: 1 is the
# highest, 3 the default). An attribute of the same command, so histories replay unchanged; a server that does
# not order by priority dispatches as before (bench/README.md, "Revocation first").
REVOKE_PRIORITY = Priority(priority_key=1)
# Item activities heartbeat while a call runs long (activities/grants.py): a crashed worker's grant or
# revoke is retried elsewhere after this, not after the two-minute start-to-close timeout.
ITEM_HEARTBEAT_TIMEOUT = timedelta(seconds=10)

ItemActivity = Callable[[GrantActivities, ItemOp], Awaitable[dict[str, Any]]]


async def call_item(activity: ItemActivity, op: ItemOp, retry: RetryPolicy) -> dict[str, Any]:
    """Run `GrantActivities.grant_item`, `.extend_item` or `.revoke_item` for one item."""
    return await workflow.execute_activity_method(
        activity,
        op,
        start_to_close_timeout=ITEM_TIMEOUT,
        heartbeat_timeout=ITEM_HEARTBEAT_TIMEOUT,
        retry_policy=retry,
        priority=REVOKE_PRIORITY if activity is GrantActivities.revoke_item else Priority.default,
        # "grant <item>", "extend <item>", "revoke <item>"
        summary=f"{activity.__name__.removesuffix('_item')} {op.item.label()}",
    )


def cause(exc: BaseException) -> str:
    """The innermost message of an activity failure: what actually went wrong."""
    while isinstance(exc, ActivityError) and exc.cause is not None:
        exc = exc.cause
    return str(exc) or type(exc).__name__


def counted_op(s: RequestState, item: GrantItem) -> ItemOp:
    """The grant of one item; it counts the expiry from when it takes effect (older histories: not)."""
    return s.item_op(item, counted=workflow.patched(ACTIVE_CLOCK_PATCH))


async def start_clock(s: RequestState, results: list[GrantResult], out: Outbox) -> None:
    """When every grant succeeded (and counted its expiry, see `counted_op`): the request expires `duration`
    after the last one took effect (the expiry each reports having set on its target, or counted from the end
    of a slow call; a worker that predates reporting set the provisional one it was given). Items whose target
    expiry is earlier (granted in an earlier second, or slowly) are extended to match, unless being revoked;
    one that cannot be is audited (`extend_target` failed: that target keeps its earlier expiry, grantflow
    still revokes at the request's)."""
    if not (workflow.patched(ACTIVE_CLOCK_PATCH) and all(r.ok for r in results)):
        return
    assert s.expires_at is not None
    ends = [until_of(r.details, GRANTED_UNTIL, s.expires_at) for r in results]
    s.expires_at = max(until_of(r.details, WANTED_UNTIL, end) for r, end in zip(results, ends, strict=True))
    # Being revoked already: no target is extended (the access is about to be removed).
    behind = [r.item for r, end in zip(results, ends, strict=True) if end < s.expires_at and s.revoke_by is None]
    moved = await asyncio.gather(
        *(call_item(GrantActivities.extend_item, s.item_op(item), EXTEND_RETRY) for item in behind),
        return_exceptions=True,
    )
    errors = [f"{i.label()}: {cause(r)}" for i, r in zip(behind, moved, strict=True) if isinstance(r, BaseException)]
    if errors:
        out.event("grantflow", "extend_target", outcome="failed", reason="; ".join(errors))


def until_of(details: dict[str, Any], key: str, fallback: datetime) -> datetime:
    """An expiry a grant reports (`GRANTED_UNTIL`: set on its target; `WANTED_UNTIL`: counted from the end of
    a slow call), `fallback` when it reports none."""
    value = details.get(key)
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else fallback
    except ValueError:
        return fallback
